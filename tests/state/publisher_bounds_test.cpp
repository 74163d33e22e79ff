// What the publisher leaves behind stays bounded and asked for: only each run's latest state
// per flush (latest_only), a stream trimmed to about max_stream_length entries, a sink file
// rotated past max_sink_bytes, warnings to the caller's handler.
#include <tendril/redis/connection.hpp>
#include <tendril/state/publisher.hpp>
#include <tendril/state/reading.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/redis_server.hpp"
#include "support/watchdog.hpp"

namespace rd = tendril::redis;
namespace ts = tendril::state;
using namespace std::chrono_literals;
using tendril::testing::at_port;
using tendril::testing::RedisServer;

namespace {

ts::ToolState of_run(const std::string& run, int n) {
  ts::ToolState state;
  state.tool_name = "scan";
  state.processed_files = n;
  state.extra = {{"tool_run_id", run}};
  return state;
}

// Every state in the stream, oldest first.
std::vector<ts::ToolState> stream_states(int port) {
  auto reader = rd::Connection::open(at_port(port));
  EXPECT_TRUE(reader) << reader.error().message;
  auto reply = reader->command({"XRANGE", "progress", "-", "+"});
  EXPECT_TRUE(reply) << reply.error().message;
  auto batch = ts::decode_stream_entries(*reply);
  EXPECT_TRUE(batch) << batch.error().message;
  EXPECT_EQ(batch->malformed, 0u);
  return batch->states;
}

long long stream_length(int port) {
  auto reader = rd::Connection::open(at_port(port));
  auto reply = reader->command({"XLEN", "progress"});
  return reply ? reply->integer : -1;
}

std::size_t line_count(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

}  // namespace

TEST(PublisherBounds, LatestOnlySendsEachRunsLastStateOfAFlush) {
  tendril::testing::Watchdog watchdog(30s, "latest only");
  RedisServer server;
  ts::ToolStatePublisher publisher({.flush_interval = 10s,
                                    .batch_size = 100'000,
                                    .endpoint = server.endpoint(),
                                    .latest_only = true});
  for (int i = 1; i <= 100; ++i) {
    publisher.publish(of_run("a", i));
    if (i <= 50) publisher.publish(of_run("b", i));
  }
  ASSERT_TRUE(publisher.shutdown());  // one flush: everything queued goes together
  const auto states = stream_states(server.port());
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].extra["tool_run_id"], "b");  // b's last came before a's last
  EXPECT_EQ(states[0].processed_files, 50);
  EXPECT_EQ(states[1].extra["tool_run_id"], "a");
  EXPECT_EQ(states[1].processed_files, 100);
  const auto stats = publisher.stats();
  EXPECT_EQ(stats.published, 150u);
  EXPECT_EQ(stats.sent, 2u);
  EXPECT_EQ(stats.superseded, 148u);
  EXPECT_EQ(stats.dropped, 0u);
}

TEST(PublisherBounds, WithoutLatestOnlyEveryStateIsSent) {
  tendril::testing::Watchdog watchdog(30s, "every state");
  RedisServer server;
  ts::ToolStatePublisher publisher(
      {.flush_interval = 10s, .batch_size = 100'000, .endpoint = server.endpoint()});
  for (int i = 1; i <= 100; ++i) publisher.publish(of_run("a", i));
  ASSERT_TRUE(publisher.shutdown());
  EXPECT_EQ(stream_states(server.port()).size(), 100u);
  EXPECT_EQ(publisher.stats().superseded, 0u);
}

TEST(PublisherBounds, TheStreamIsTrimmedToAboutMaxStreamLength) {
  tendril::testing::Watchdog watchdog(60s, "stream cap");
  RedisServer server;
  {  // trimming with ~ removes whole nodes: small nodes make the bound tight
    auto admin = rd::Connection::open(server.endpoint());
    ASSERT_TRUE(admin->command({"CONFIG", "SET", "stream-node-max-entries", "10"}));
  }
  ts::ToolStatePublisher publisher(
      {.flush_interval = 10s, .endpoint = server.endpoint(), .max_stream_length = 20});
  for (int i = 0; i < 300; ++i) {
    publisher.publish(of_run("a", i));
    ASSERT_TRUE(publisher.flush());  // one entry per flush
  }
  const long long length = stream_length(server.port());
  EXPECT_GE(length, 20);
  EXPECT_LE(length, 30);  // about 20: at most one node over
  const auto states = stream_states(server.port());
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back().processed_files, 299);  // the newest stay
}

// Each entry is one flush: 10,000 entries of large flushes would be gigabytes, so the stream is
// also held to about max_stream_bytes, from the size of the publisher's recent commands.
TEST(PublisherBounds, TheStreamIsHeldToAboutMaxStreamBytes) {
  tendril::testing::Watchdog watchdog(60s, "stream bytes");
  RedisServer server;
  ts::ToolStatePublisher publisher({.flush_interval = 10s,
                                    .endpoint = server.endpoint(),
                                    .max_stream_length = 10'000,
                                    .max_stream_bytes = 100'000});
  for (int i = 0; i < 100; ++i) {
    ts::ToolState state = of_run("a", i);
    state.current_file_name = std::string(10'000, 'x');  // each entry about 10 KB
    publisher.publish(std::move(state));
    ASSERT_TRUE(publisher.flush());  // one entry per flush
  }
  const long long length = stream_length(server.port());
  EXPECT_GE(length, 8);   // about 100,000 / 10,100 bytes...
  EXPECT_LE(length, 12);  // ...not the 100 entries (1 MB) that max_stream_length allows
  const auto states = stream_states(server.port());
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back().processed_files, 99);  // the newest stay
}

TEST(PublisherBounds, TheSinkFileIsRotatedPastMaxSinkBytes) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "tendril-rotate";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = dir / "states.jsonl";
  ts::ToolStatePublisher publisher({.flush_interval = 10s,
                                    .use_environment = false,
                                    .sink_path = path.string(),
                                    .max_sink_bytes = 4096});
  for (int i = 0; i < 200; ++i) {
    publisher.publish(of_run("a", i));
    if (i % 10 == 9) {
      ASSERT_TRUE(publisher.flush());
    }
  }
  ASSERT_TRUE(publisher.shutdown());
  const auto rotated = std::filesystem::path(path.string() + ".1");
  ASSERT_TRUE(std::filesystem::exists(rotated));
  EXPECT_LE(std::filesystem::file_size(path), 4096u + 10 * 400);  // under the bound + a flush
  EXPECT_GE(std::filesystem::file_size(rotated), 4096u);
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".2"));  // one old file, not a pile
  EXPECT_EQ(publisher.stats().sent, 200u);
  // The newest state is the last line of the current file, or of the rotated one when the last
  // flush filled the current one.
  const auto last_line = [](const std::filesystem::path& file) {
    std::ifstream in(file);
    std::string line, last;
    while (std::getline(in, line)) last = line;
    return last;
  };
  const std::string newest = line_count(path) > 0 ? last_line(path) : last_line(rotated);
  auto state = ts::parse_tool_state(newest);
  ASSERT_TRUE(state) << newest;
  EXPECT_EQ(state->processed_files, 199);
  std::filesystem::remove_all(dir);
}

TEST(PublisherBounds, WarningsGoToTheCallersHandler) {
  std::vector<std::string> warnings;
  {
    ts::ToolStatePublisher publisher(
        {.use_environment = false,
         .sink_path = "/no/such/dir/states.jsonl",
         .on_warning = [&](const std::string& line) { warnings.push_back(line); }});
    publisher.publish(of_run("a", 1));
    publisher.publish(of_run("a", 2));
    EXPECT_FALSE(publisher.shutdown());
  }
  ASSERT_EQ(warnings.size(), 1u);  // once per cause
  EXPECT_NE(warnings[0].find("state file '/no/such/dir/states.jsonl' cannot be opened"),
            std::string::npos)
      << warnings[0];
}
