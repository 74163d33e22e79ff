// ToolState: the real package's fields and format, the fast writer, valid UTF-8.
#include <tendril/state/reading.hpp>
#include <tendril/state/tool_state.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

namespace ts = tendril::state;

TEST(ToolState, WritesTheRealPackagesFieldsAndReadsThemBack) {
  ts::ToolState state;
  state.tool_name = "scan";
  state.total_files = 10;
  state.extra = {{"host", "a"}};
  const ts::OrderedJson json = state.to_json();
  std::vector<std::string> keys;
  for (const auto& [key, value] : json.items()) keys.push_back(key);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"type", "flow_run_id", "state", "tool_name", "step_name",
                                      "message", "total_files", "processed_files",
                                      "current_file_name", "steps", "timestamp", "host"}));
  EXPECT_EQ(json["type"], "ToolState");
  EXPECT_EQ(json["state"], "INFO");
  const auto back = ts::read_tool_state(json);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->tool_name, "scan");
  EXPECT_EQ(back->total_files, 10);
  EXPECT_EQ(back->extra["host"], "a");
}

TEST(ToolState, TheFastWriterWritesWhatTheJsonLibraryWrites) {
  ts::ToolState state;
  state.tool_name = "scan \"quoted\" \\ back\tslash\n\x01 and ü";
  state.current_file_name = "/a/b.txt";
  state.steps = {"walk", "hash"};
  state.extra = {{"host", "a"}, {"n", 3}, {"tool_name", "ignored: the standard field wins"}};
  std::string fast;
  state.append_json(fast);
  EXPECT_EQ(fast, state.to_json().dump());
}

// Strings are written run by run: a seeded sweep of strings mixing plain runs, quotes,
// backslashes, control bytes, DEL and UTF-8 of every length, at every position, empty steps
// and not.
TEST(ToolState, TheFastWriterWritesWhatTheJsonLibraryWritesForMixedStrings) {
  const std::vector<std::string> pieces{"plain text ", "\"", "\\", "\n", "\x01", "\x1f",
                                        "\x7f",        "ü",  "€",  "😀",  "/a/b", ""};
  std::uint64_t x = 0x2545f4914f6cdd1du;  // a fixed seed: the same strings every run
  auto next = [&] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  for (int round = 0; round < 500; ++round) {
    ts::ToolState state;
    for (std::string* field : {&state.tool_name, &state.message, &state.current_file_name}) {
      const std::size_t count = next() % 8;
      for (std::size_t k = 0; k < count; ++k) *field += pieces[next() % pieces.size()];
    }
    if (round % 2) state.steps = {state.message, "hash"};
    std::string fast;
    state.append_json(fast);
    ASSERT_EQ(fast, state.to_json().dump()) << "round " << round;
  }
}

// The timestamp, written by hand with the date cached per second, against gmtime_r and
// snprintf (what it was written with before) over moments from 1969 to 2200 (system_clock counts
// nanoseconds in 64 bits: about 1678 to 2262), seconds apart, repeated, and going back in time.
TEST(ToolState, UtcTimestampWritesWhatGmtimeAndPrintfWrite) {
  using namespace std::chrono;
  auto reference = [](system_clock::time_point when) {
    const auto micros_since = duration_cast<microseconds>(when.time_since_epoch()).count();
    long long seconds = micros_since / 1'000'000, micros = micros_since % 1'000'000;
    if (micros < 0) micros += 1'000'000, --seconds;
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm utc{};
    ::gmtime_r(&t, &utc);
    char text[96];
    const int n =
        std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d", utc.tm_year + 1900,
                      utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
    if (micros != 0) std::snprintf(text + n, sizeof text - n, ".%06lld", micros);
    return std::string(text) + "+00:00";
  };
  const system_clock::time_point epoch{};
  std::vector<system_clock::time_point> moments{
      epoch,
      epoch - microseconds(1'500'000),                         // 1969-12-31T23:59:58.500000
      epoch + seconds(951'782'400),                            // 2000-02-29T00:00:00, no fraction
      epoch + seconds(1'735'689'599) + microseconds(999'999),  // 2024-12-31T23:59:59.999999
      epoch + seconds(7'258'204'799),                          // 2200-01-01T23:59:59
  };
  std::uint64_t x = 0x9e3779b97f4a7c15u;  // a fixed seed: the same moments every run
  for (int i = 0; i < 2000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    moments.push_back(epoch + microseconds(static_cast<long long>(x % 4'000'000'000'000'000u)));
  }
  const std::size_t random = moments.size();
  for (std::size_t i = 0; i < random; ++i) {  // the same second again, then the one before
    moments.push_back(moments[i] + microseconds(1));
    moments.push_back(moments[i] - seconds(1));
  }
  for (const auto& when : moments) ASSERT_EQ(ts::utc_timestamp(when), reference(when));
  EXPECT_EQ(ts::utc_timestamp(epoch + seconds(951'782'400)), "2000-02-29T00:00:00+00:00");
  EXPECT_EQ(ts::utc_timestamp(epoch - microseconds(1'500'000)), "1969-12-31T23:59:58.500000+00:00");
}

TEST(ToolState, UpdatedStampsANewUtcTimestamp) {
  ts::ToolState state;
  state.timestamp = "2000-01-01T00:00:00.000000+00:00";
  const ts::ToolState next = state.updated([](ts::ToolState& s) { s.processed_files = 3; });
  EXPECT_EQ(next.processed_files, 3);
  EXPECT_NE(next.timestamp, state.timestamp);
  EXPECT_EQ(next.timestamp.size(), 32u);
  EXPECT_EQ(next.timestamp.substr(26), "+00:00");
}

TEST(ToolState, EveryJsonItWritesIsValidUtf8WithBadBytesReplaced) {
  ts::ToolState state;
  state.current_file_name = "bad\xff.txt";  // a file name is bytes, not always UTF-8
  state.message = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";  // valid: kept
  state.step_name = "cut\xc3";                                              // a sequence cut short
  state.steps = ts::OrderedJson::array({std::string("\xed\xa0\x80")});      // a surrogate
  state.extra["note"] = std::string("\xc0\xaf");                            // an overlong '/'
  std::string line;
  state.append_json(line);
  const auto json = ts::OrderedJson::parse(line);  // throws on invalid UTF-8
  const std::string replacement = "\xef\xbf\xbd";
  EXPECT_EQ(json["current_file_name"], "bad" + replacement + ".txt");
  EXPECT_EQ(json["message"], "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(json["step_name"], "cut" + replacement);
  // Values inside steps and extra fields go through nlohmann's own replacing dump.
  EXPECT_NE(json["steps"][0].get<std::string>().find(replacement), std::string::npos);
  EXPECT_NE(json["note"].get<std::string>().find(replacement), std::string::npos);
}
