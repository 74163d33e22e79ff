// tendril/stream/keys.hpp — the Redis keys and entry fields of one remote stage.
//
// A remote stage named NAME lives in three kinds of key:
//   tendril:NAME:work            the work stream; consumer group NAME; trimmed with MINID
//   tendril:NAME:dead            the dead-letter stream (undecodable or over-delivered entries)
//   tendril:NAME:results:RUN     one producing run's results; deleted when the run ends, and
//                                workers drop entries whose results stream is gone (cancelled)
// A work entry holds `run`, `seq` (the item's number in its run: with `run`, the idempotency
// key), `reply` (the results stream) and `data` (the encoded item). A result holds `seq`, `ok`
// ("1" or "0"), and `data` (the encoded output) or `error`, `kind` and `attempts`.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tendril::stream {

struct StreamKeys {
  explicit StreamKeys(const std::string& stage)
      : work("tendril:" + stage + ":work"),
        group(stage),
        dead("tendril:" + stage + ":dead"),
        results_prefix("tendril:" + stage + ":results:") {}
  std::string results(std::string_view run) const { return results_prefix + std::string(run); }

  std::string work, group, dead, results_prefix;
};

// A stream entry id, "<ms>-<seq>", ordered as Redis orders them.
struct StreamId {
  std::uint64_t ms = 0, seq = 0;
  static std::optional<StreamId> parse(std::string_view text);
  std::string text() const { return std::to_string(ms) + "-" + std::to_string(seq); }
  StreamId next() const { return seq == UINT64_MAX ? StreamId{ms + 1, 0} : StreamId{ms, seq + 1}; }
  auto operator<=>(const StreamId&) const = default;
};

}  // namespace tendril::stream
