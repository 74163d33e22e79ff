#include "entries.hpp"

#include <unistd.h>

#include <algorithm>
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

namespace {

void put(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

bool take(std::string_view& in, std::uint64_t& value, int bytes) {
  if (in.size() < static_cast<std::size_t>(bytes)) return false;
  value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(static_cast<std::size_t>(bytes));
  return true;
}

bool take_bytes(std::string_view& in, std::string_view& bytes) {
  std::uint64_t length = 0;
  if (!take(in, length, 4) || in.size() < length) return false;
  bytes = in.substr(0, length);
  in.remove_prefix(length);
  return true;
}

}  // namespace

void append_item(std::string& frames, std::uint64_t seq, std::string_view bytes) {
  put(frames, seq, 8);
  put(frames, bytes.size(), 4);
  frames.append(bytes);
}

void append_result(std::string& frames, const ResultFrame& result) {
  put(frames, result.seq, 8);
  put(frames, result.ok ? 1 : 0, 1);
  put(frames, static_cast<std::uint64_t>(result.kind), 1);
  put(frames, static_cast<std::uint64_t>(std::max(0, result.attempts)), 2);
  put(frames, result.bytes.size(), 4);
  frames.append(result.bytes);
}

bool split_items(std::string_view frames, std::vector<ItemFrame>& out) {
  while (!frames.empty()) {
    ItemFrame item;
    if (!take(frames, item.seq, 8) || !take_bytes(frames, item.bytes)) return false;
    out.push_back(item);
  }
  return true;
}

bool split_results(std::string_view frames, std::vector<ResultFrame>& out) {
  while (!frames.empty()) {
    ResultFrame result;
    std::uint64_t ok = 0, kind = 0, attempts = 0;
    if (!take(frames, result.seq, 8) || !take(frames, ok, 1) || !take(frames, kind, 1) ||
        !take(frames, attempts, 2) || !take_bytes(frames, result.bytes))
      return false;
    result.ok = ok == 1;
    result.kind = kind <= static_cast<std::uint64_t>(ErrorKind::refused)
                      ? static_cast<ErrorKind>(kind)
                      : ErrorKind::handler;
    result.attempts = static_cast<int>(attempts);
    out.push_back(result);
  }
  return true;
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
