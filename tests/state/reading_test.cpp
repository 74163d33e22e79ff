// Reading back what a Publisher wrote: malformed entries and states are skipped and counted,
// never trusted, never thrown.
#include <tendril/redis/connection.hpp>
#include <tendril/state/reading.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ts = tendril::state;
namespace redis = tendril::redis;

namespace {

// RESP2 for a bulk string.
std::string bulk(const std::string& text) {
  return "$" + std::to_string(text.size()) + "\r\n" + text + "\r\n";
}
std::string array_of(const std::vector<std::string>& parts) {
  std::string out = "*" + std::to_string(parts.size()) + "\r\n";
  for (const auto& part : parts) out += part;
  return out;
}
std::string entry(const std::string& id, const std::vector<std::string>& fields) {
  std::vector<std::string> encoded;
  for (const auto& field : fields) encoded.push_back(bulk(field));
  return array_of({bulk(id), array_of(encoded)});
}
std::string states_payload(const std::vector<std::string>& states) {
  std::string out = R"({"schema":"PythonTool","data":[)";
  for (std::size_t i = 0; i < states.size(); ++i) out += (i ? "," : "") + states[i];
  return out + "]}";
}
redis::Reply decoded(const std::string& resp) {
  auto reply = redis::decode_reply(resp);
  EXPECT_TRUE(reply) << reply.error().message;
  return reply ? *reply : redis::Reply{};
}

}  // namespace

TEST(ReadToolState, ReadsBackWhatToJsonWrote) {
  ts::ToolState state;
  state.tool_name = "scan";
  state.total_files = 12;
  state.processed_files = 5;
  state.steps = {"walk"};
  state.extra = {{"host", "a"}};
  auto back = ts::parse_tool_state(state.to_json().dump());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->to_json(), state.to_json());
}

TEST(ReadToolState, AMissingOrNullFieldKeepsItsDefault) {
  auto back = ts::parse_tool_state(R"({"tool_name":"scan","message":null})");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->tool_name, "scan");
  EXPECT_EQ(back->message, "");
  EXPECT_EQ(back->state, "INFO");
  EXPECT_EQ(back->total_files, 0);
  EXPECT_TRUE(back->extra.empty());
}

TEST(ReadToolState, AStandardFieldOfAnotherTypeIsAnErrorNamingIt) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"({"total_files":"12"})", "total_files is not an integer"},
      {R"({"processed_files":1.5})", "processed_files is not an integer"},
      {R"({"total_files":18446744073709551615})", "total_files is not an integer"},
      {R"({"tool_name":3})", "tool_name is not a string"},
      {R"({"steps":"walk"})", "steps is not an array"},
  };
  for (const auto& [text, message] : cases) {
    auto back = ts::parse_tool_state(text);
    ASSERT_FALSE(back) << text;
    EXPECT_EQ(back.error().kind, tendril::ErrorKind::invalid);
    EXPECT_EQ(back.error().message, message) << text;
  }
}

TEST(ReadToolState, TextThatIsNoStateIsAnError) {
  EXPECT_EQ(ts::parse_tool_state("[1,2]").error().message, "a tool state is a JSON object");
  EXPECT_EQ(ts::parse_tool_state(R"({"tool_name":"sc)").error().message,
            "a tool state that is not JSON");
  EXPECT_EQ(ts::parse_tool_state(std::string(100000, '[')).error().message,
            "a tool state that is nested deeper than 64 levels");
  EXPECT_EQ(ts::parse_tool_state(std::string((16 << 20) + 1, ' ')).error().message,
            "a tool state that is longer than 16 MiB");
}

TEST(DecodeReply, ReadsRespAsAConnectionWould) {
  const redis::Reply reply = decoded(array_of({bulk("a"), ":7\r\n", "+OK\r\n", "$-1\r\n"}));
  ASSERT_EQ(reply.type, redis::Reply::Type::array);
  ASSERT_EQ(reply.elements.size(), 4u);
  EXPECT_EQ(reply.elements[0].text, "a");
  EXPECT_EQ(reply.elements[1].integer, 7);
  EXPECT_EQ(reply.elements[2].type, redis::Reply::Type::status);
  EXPECT_EQ(reply.elements[3].type, redis::Reply::Type::nil);
}

TEST(DecodeReply, IncompleteAndMalformedRepliesAreErrors) {
  EXPECT_EQ(redis::decode_reply("*2\r\n$1\r\na\r\n").error().message, "incomplete RESP reply");
  auto bad = redis::decode_reply("?what\r\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, tendril::ErrorKind::invalid);
  EXPECT_TRUE(bad.error().message.starts_with("malformed RESP reply: ")) << bad.error().message;
  EXPECT_FALSE(redis::decode_reply(std::string(10, '*').insert(1, "1\r\n")));
  // A header that promises more elements than the bytes hold is refused before the reader
  // allocates for it (found by fuzz_stream_reply: "*777777777" cost 6 GB).
  EXPECT_EQ(redis::decode_reply("*1\r\n*777777777\r\n:1\r\n").error().message,
            "incomplete RESP reply: an array of 777777777 elements in 20 bytes");
}

TEST(DecodeStream, ReadsEveryStateOfEveryEntry) {
  ts::ToolState a, b;
  a.tool_name = "a";
  b.tool_name = "b";
  const std::string resp =
      array_of({entry("1-0", {"data", states_payload({a.to_json().dump()}), "attributes", "{}"}),
                entry("2-0", {"data", states_payload({b.to_json().dump(), a.to_json().dump()})})});
  auto batch = ts::decode_stream_entries(decoded(resp));
  ASSERT_TRUE(batch) << batch.error().message;
  ASSERT_EQ(batch->states.size(), 3u);
  EXPECT_EQ(batch->states[0].tool_name, "a");
  EXPECT_EQ(batch->states[1].tool_name, "b");
  EXPECT_EQ(batch->last_id, "2-0");
  EXPECT_EQ(batch->entries, 2u);
  EXPECT_EQ(batch->malformed, 0u);
}

TEST(DecodeStream, SkipsAndCountsWhatIsNotAPublishers) {
  ts::ToolState good;
  good.tool_name = "good";
  const std::string ok = good.to_json().dump();
  const std::string resp = array_of({
      entry("1-0", {"data", "not json"}),
      entry("2-0", {"attributes", "{}"}),                // no data field
      entry("3-0", {"data", R"({"data":"a string"})"}),  // data not an array
      entry("4-0", {"data", states_payload({ok, R"({"total_files":"x"})", "7"})}),
      array_of({bulk("5-0")}),  // no fields
      ":12\r\n",                // not an entry
      entry("6-0", {"data", states_payload({ok})}),
  });
  auto batch = ts::decode_stream_entries(decoded(resp));
  ASSERT_TRUE(batch) << batch.error().message;
  ASSERT_EQ(batch->states.size(), 2u);
  EXPECT_EQ(batch->states[0].tool_name, "good");
  EXPECT_EQ(batch->entries, 7u);
  EXPECT_EQ(batch->malformed, 7u);  // entries 1, 2, 3, 5 and ":12"; two states of entry 4
  EXPECT_EQ(batch->last_id, "6-0");
}

TEST(DecodeStream, AnXreadReplyIsUnwrappedAndNilIsNothingNew) {
  ts::ToolState s;
  const std::string resp = array_of({array_of(
      {bulk("topic"), array_of({entry("9-1", {"data", states_payload({s.to_json().dump()})})})})});
  auto batch = ts::decode_xread(decoded(resp));
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_EQ(batch->states.size(), 1u);
  EXPECT_EQ(batch->last_id, "9-1");

  auto nothing = ts::decode_xread(decoded("*-1\r\n"));
  ASSERT_TRUE(nothing);
  EXPECT_TRUE(nothing->states.empty());
  EXPECT_TRUE(nothing->last_id.empty());

  EXPECT_EQ(ts::decode_xread(decoded(":1\r\n")).error().message,
            "not an XREAD reply for one stream");
  EXPECT_EQ(ts::decode_xread(decoded(array_of({array_of({bulk("topic")})}))).error().message,
            "not an XREAD reply for one stream");
  EXPECT_EQ(ts::decode_stream_entries(decoded("+OK\r\n")).error().message,
            "stream entries are not an array");
}
