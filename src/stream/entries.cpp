#include "entries.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <random>
#include <thread>

#include "tendril/stream/keys.hpp"

namespace tendril::stream {

std::optional<StreamId> StreamId::parse(std::string_view text) {
  const auto dash = text.find('-');
  StreamId id;
  const char* end = text.data() + text.size();
  const auto ms_end = dash == std::string_view::npos ? end : text.data() + dash;
  if (std::from_chars(text.data(), ms_end, id.ms).ptr != ms_end) return std::nullopt;
  if (dash != std::string_view::npos &&
      std::from_chars(text.data() + dash + 1, end, id.seq).ptr != end)
    return std::nullopt;
  return id;
}

namespace detail {

std::vector<Entry> entry_list(const redis::Reply& list) {
  std::vector<Entry> entries;
  if (list.type != redis::Reply::Type::array) return entries;
  for (const auto& item : list.elements) {
    if (item.type != redis::Reply::Type::array || item.elements.size() < 2) continue;
    Entry entry{.id = item.elements[0].text, .fields = {}, .deleted = false};
    const auto& fields = item.elements[1];
    if (fields.type != redis::Reply::Type::array) {
      entry.deleted = true;
    } else {
      for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2)
        entry.fields.emplace_back(fields.elements[i].text, fields.elements[i + 1].text);
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::vector<Entry> read_entries(const redis::Reply& reply) {
  std::vector<Entry> entries;
  if (reply.type != redis::Reply::Type::array) return entries;
  for (const auto& stream : reply.elements) {
    if (stream.type != redis::Reply::Type::array || stream.elements.size() < 2) continue;
    auto more = entry_list(stream.elements[1]);
    entries.insert(entries.end(), std::make_move_iterator(more.begin()),
                   std::make_move_iterator(more.end()));
  }
  return entries;
}

std::string default_consumer_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
  return std::string(host) + "-" + std::to_string(::getpid());
}

std::string random_hex() {
  std::random_device random;
  const std::uint64_t bits = (static_cast<std::uint64_t>(random()) << 32) ^ random();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(bits));
  return text;
}

}  // namespace detail
}  // namespace tendril::stream
