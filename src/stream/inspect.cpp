#include "tendril/stream/inspect.hpp"

#include <algorithm>

namespace tendril::stream {

namespace {

// A field of a flat [name, value, ...] reply.
const redis::Reply* field(const redis::Reply& map, const std::string& name) {
  for (std::size_t i = 0; i + 1 < map.elements.size(); i += 2)
    if (map.elements[i].text == name) return &map.elements[i + 1];
  return nullptr;
}

long long integer(const redis::Reply* reply, long long otherwise = 0) {
  return reply && reply->type == redis::Reply::Type::integer ? reply->integer : otherwise;
}

}  // namespace

Result<std::vector<StageGroup>> stage_groups(redis::Connection& connection) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto page = connection.command({"SCAN", cursor, "MATCH", "tendril:*:work", "COUNT", "1000"});
    if (!page) return std::unexpected(page.error());
    if (page->elements.size() < 2) break;
    cursor = page->elements[0].text;
    for (const auto& key : page->elements[1].elements) keys.push_back(key.text);
  } while (cursor != "0");
  std::sort(keys.begin(), keys.end());

  std::vector<StageGroup> groups;
  for (const std::string& key : keys) {
    const std::string stage = key.substr(8, key.size() - 8 - 5);  // tendril:STAGE:work
    auto replies = connection.pipeline(
        {{"XINFO", "GROUPS", key}, {"XLEN", key}, {"XLEN", "tendril:" + stage + ":dead"}});
    if (!replies) return std::unexpected(replies.error());
    const auto& info = (*replies)[0];
    if (info.type != redis::Reply::Type::array) continue;  // not a stream after all
    for (const auto& g : info.elements) {
      StageGroup row;
      row.stage = stage;
      if (const auto* name = field(g, "name")) row.group = name->text;
      row.consumers = integer(field(g, "consumers"));
      row.pending = integer(field(g, "pending"));
      row.lag = integer(field(g, "lag"), -1);
      row.entries = (*replies)[1].integer;
      row.dead_letters = (*replies)[2].integer;
      auto consumers = connection.command({"XINFO", "CONSUMERS", key, row.group});
      if (consumers)
        for (const auto& c : consumers->elements)
          if (integer(field(c, "idle"), 1 << 30) < 10000) ++row.active_consumers;
      groups.push_back(std::move(row));
    }
  }
  return groups;
}

}  // namespace tendril::stream
