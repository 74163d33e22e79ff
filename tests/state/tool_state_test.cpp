// ToolState: the real package's fields and format, the fast writer, valid UTF-8.
#include <tendril/state/reading.hpp>
#include <tendril/state/tool_state.hpp>

#include <gtest/gtest.h>

#include <string>

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
