// The tool-state publisher against a real redis-server: the wire format, batching, a consumer
// group that sees every state once and in order, Redis dying and coming back, the bound, the
// default sink, configuration errors, and the shared instance.
#include <tendril/redis/connection.hpp>
#include <tendril/state/publisher.hpp>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "support/eventually.hpp"
#include "support/redis_server.hpp"
#include "support/watchdog.hpp"

namespace rd = tendril::redis;
namespace ts = tendril::state;
using namespace std::chrono_literals;
using tendril::testing::at_port;
using tendril::testing::RedisServer;
using tendril::testing::with_password;

namespace {

ts::ToolState numbered(int publisher, int seq) {
  ts::ToolState state;
  state.tool_name = "scan";
  state.state = "RUNNING";
  state.processed_files = seq;
  state.extra = {{"publisher", publisher}, {"seq", seq}};
  return state;
}

// Every state in the stream, read with a consumer group by an independent client.
std::vector<ts::OrderedJson> read_all(int port, const std::string& stream = "progress",
                                      std::vector<ts::OrderedJson>* attributes = nullptr) {
  auto reader = rd::Connection::open(at_port(port));
  EXPECT_TRUE(reader) << reader.error().message;
  reader->command({"XGROUP", "CREATE", stream, "readers", "0", "MKSTREAM"});
  std::vector<ts::OrderedJson> states;
  for (;;) {
    auto reply = reader->command(
        {"XREADGROUP", "GROUP", "readers", "c1", "COUNT", "1000", "STREAMS", stream, ">"});
    EXPECT_TRUE(reply);
    if (!reply || reply->type != rd::Reply::Type::array || reply->elements.empty()) break;
    const auto& entries = reply->elements[0].elements[1].elements;
    if (entries.empty()) break;
    for (const auto& entry : entries) {
      const auto& fields = entry.elements[1].elements;
      std::map<std::string, std::string> by_name;
      for (std::size_t i = 0; i + 1 < fields.size(); i += 2)
        by_name[fields[i].text] = fields[i + 1].text;
      const ts::OrderedJson data = ts::OrderedJson::parse(by_name.at("data"));
      EXPECT_EQ(data.at("schema"), "PythonTool");
      if (attributes) attributes->push_back(ts::OrderedJson::parse(by_name.at("attributes")));
      for (const auto& state : data.at("data")) states.push_back(state);
      reader->command({"XACK", stream, "readers", entry.elements[0].text});
    }
  }
  return states;
}

long long stream_length(int port) {
  auto reader = rd::Connection::open(at_port(port));
  auto reply = reader ? reader->command({"XLEN", "progress"}) : rd::RedisResult<rd::Reply>{};
  return reply ? reply->integer : -1;
}

using test_support::eventually;

}  // namespace

TEST(Publisher, OneStreamEntryPerFlushInTheRealWireFormat) {
  tendril::testing::Watchdog watchdog(30s, "publisher wire format");
  RedisServer server;
  ts::ToolStatePublisher publisher(
      {.flush_interval = 60s, .batch_size = 5, .endpoint = server.endpoint()});
  for (int i = 0; i < 5; ++i) publisher.publish(numbered(0, i));
  ASSERT_TRUE(eventually([&] { return stream_length(server.port()) == 1; }))
      << "five states, batch_size five: one XADD without waiting for the interval";
  std::vector<ts::OrderedJson> attributes;
  const auto states = read_all(server.port(), "progress", &attributes);
  ASSERT_EQ(states.size(), 5u);
  EXPECT_EQ(states[4]["seq"], 4);
  EXPECT_EQ(states[0]["type"], "ToolState");
  ASSERT_EQ(attributes.size(), 1u);
  EXPECT_EQ(attributes[0]["event_type"], "tool");
  EXPECT_EQ(attributes[0]["count"], 5);
  EXPECT_TRUE(attributes[0]["timestamp"].is_string());
  // The worker counts the batch after Redis answered, so the entry can be read a moment before.
  EXPECT_TRUE(eventually([&] { return publisher.stats().batches == 1; }));
  EXPECT_EQ(publisher.stats().sent, 5u);
}

// A full batch that lands just as the worker goes back to sleep still wakes it: each state is
// published the moment the one before was sent, 5,000 times, and none waits for the one-minute
// interval. (The worker once slept on a condition variable that publish() notified without
// its mutex; a notify between the worker's look and its wait was lost.)
TEST(Publisher, AFullBatchLandingAsTheWorkerGoesToSleepStillWakesIt) {
  tendril::testing::Watchdog watchdog(60s, "batch as the worker sleeps");
  RedisServer server;
  ts::ToolStatePublisher publisher(
      {.flush_interval = 60s, .batch_size = 1, .endpoint = server.endpoint()});
  for (std::uint64_t round = 1; round <= 5000; ++round) {
    publisher.publish(numbered(0, static_cast<int>(round)));
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (publisher.stats().sent < round)  // no sleep: the next publish follows at once
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "round " << round << ": the state waited for the interval";
  }
}

// The worker wants waking batch_size states after what it had taken when it fell asleep, not
// at multiples of batch_size: after a flush() took a lone state, four more from two threads at
// once are a full batch and are sent without the one-minute interval, 200 times over.
TEST(Publisher, AFullBatchAfterAFlushTookARemainderWakesTheWorker) {
  tendril::testing::Watchdog watchdog(120s, "batch after a flush");
  RedisServer server;
  ts::ToolStatePublisher publisher(
      {.flush_interval = 60s, .batch_size = 4, .endpoint = server.endpoint()});
  std::uint64_t total = 0;
  for (int round = 0; round < 200; ++round) {
    publisher.publish(numbered(0, round));
    ASSERT_TRUE(publisher.flush(5s)) << "round " << round;
    total += 1;
    std::thread other([&] {
      publisher.publish(numbered(1, round));
      publisher.publish(numbered(1, round));
    });
    publisher.publish(numbered(2, round));
    publisher.publish(numbered(2, round));
    other.join();
    total += 4;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (publisher.stats().sent < total) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "round " << round << ": a full batch waited for the interval";
      std::this_thread::sleep_for(100us);
    }
  }
}

TEST(Publisher, ABatchSizeOfZeroActsAsOne) {
  tendril::testing::Watchdog watchdog(30s, "batch size zero");
  RedisServer server;
  ts::ToolStatePublisher publisher(
      {.flush_interval = 60s, .batch_size = 0, .endpoint = server.endpoint()});
  publisher.publish(numbered(0, 1));
  ASSERT_TRUE(eventually([&] { return stream_length(server.port()) == 1; }))
      << "one state is a full batch: sent without waiting for the one-minute interval";
  publisher.publish(numbered(0, 2));
  ASSERT_TRUE(eventually([&] { return stream_length(server.port()) == 2; }));
  EXPECT_TRUE(eventually([&] { return publisher.stats().batches == 2; }));  // counted after Redis
}

TEST(Publisher, FewerThanABatchAreFlushedOnTheInterval) {
  tendril::testing::Watchdog watchdog(30s, "interval flush");
  RedisServer server;
  ts::ToolStatePublisher publisher(
      {.flush_interval = 100ms, .batch_size = 100, .endpoint = server.endpoint()});
  for (int i = 0; i < 3; ++i) publisher.publish(numbered(0, i));
  ASSERT_TRUE(eventually([&] { return stream_length(server.port()) == 1; }));
  EXPECT_EQ(read_all(server.port()).size(), 3u);
}

TEST(Publisher, ManyThreadsEveryStateOnceAndInOrderPerPublisher) {
  tendril::testing::Watchdog watchdog(60s, "publisher threads");
  RedisServer server;
  constexpr int kThreads = 4, kEach = 2000;
  ts::ToolStatePublisher publisher({.flush_interval = 20ms, .endpoint = server.endpoint()});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) publisher.publish(numbered(t, i));
    });
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(publisher.shutdown());
  const auto states = read_all(server.port());
  ASSERT_EQ(states.size(), static_cast<std::size_t>(kThreads * kEach));
  std::vector<int> next(kThreads, 0);
  for (const auto& state : states) {
    const int t = state["publisher"], seq = state["seq"];
    EXPECT_EQ(seq, next[t]) << "publisher " << t;
    next[t] = seq + 1;
  }
  const auto stats = publisher.stats();
  EXPECT_EQ(stats.published, static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_EQ(stats.sent, stats.published);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_LT(stats.batches, stats.sent) << "batched, not one command per state";
}

TEST(Publisher, PubSubModePublishesAJsonArray) {
  tendril::testing::Watchdog watchdog(30s, "pubsub");
  RedisServer server;
  auto subscriber = rd::Connection::open(server.endpoint());
  ASSERT_TRUE(subscriber);
  ASSERT_TRUE(subscriber->command({"SUBSCRIBE", "tools"}));
  ts::ToolStatePublisher publisher({.topic = "tools",
                                    .flush_interval = 60s,
                                    .batch_size = 2,
                                    .mode = ts::PublishMode::pubsub,
                                    .endpoint = server.endpoint()});
  publisher.publish(numbered(0, 0));
  publisher.publish(numbered(0, 1));
  auto message = subscriber->receive();
  ASSERT_TRUE(message) << message.error().message;
  ASSERT_EQ(message->elements.size(), 3u);
  EXPECT_EQ(message->elements[0].text, "message");
  EXPECT_EQ(message->elements[1].text, "tools");
  const ts::OrderedJson array = ts::OrderedJson::parse(message->elements[2].text);
  ASSERT_TRUE(array.is_array());
  EXPECT_EQ(array.size(), 2u);
}

TEST(Publisher, RedisKilledAndRestartedLosesNoStateWithinTheBound) {
  tendril::testing::Watchdog watchdog(60s, "redis restart");
  RedisServer server;
  ts::ToolStatePublisher publisher({.flush_interval = 20ms, .endpoint = server.endpoint()});
  for (int i = 0; i < 100; ++i) publisher.publish(numbered(0, i));
  ASSERT_TRUE(eventually([&] { return publisher.stats().sent == 100; }));
  const auto before = read_all(server.port());  // read them now: the restart empties Redis
  server.kill();
  for (int i = 100; i < 300; ++i) publisher.publish(numbered(0, i));
  ASSERT_TRUE(eventually([&] { return publisher.stats().retries > 0; }));
  server.restart();
  ASSERT_TRUE(publisher.shutdown(20s));
  const auto after = read_all(server.port());
  EXPECT_EQ(before.size() + after.size(), 300u);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.front()["seq"], 100);
  EXPECT_EQ(after.back()["seq"], 299);
  EXPECT_EQ(publisher.stats().dropped, 0u);
  EXPECT_NE(publisher.stats().last_error.find("127.0.0.1"), std::string::npos);
}

TEST(Publisher, BeyondTheBoundTheOldestAreDroppedAndCounted) {
  tendril::testing::Watchdog watchdog(60s, "bound");
  RedisServer server;
  server.kill();
  ts::ToolStatePublisher publisher(
      {.flush_interval = 20ms, .max_queued = 50, .endpoint = server.endpoint()});
  for (int i = 0; i < 80; ++i) publisher.publish(numbered(0, i));
  ASSERT_TRUE(eventually([&] { return publisher.stats().dropped == 30; }));
  server.restart();
  EXPECT_FALSE(publisher.shutdown(20s)) << "thirty were lost, and shutdown says so";
  const auto states = read_all(server.port());
  ASSERT_EQ(states.size(), 50u);
  EXPECT_EQ(states.front()["seq"], 30) << "the oldest thirty were dropped";
  EXPECT_EQ(states.back()["seq"], 79);
}

TEST(Publisher, WithNoRedisStatesGoToTheDefaultSink) {
  const std::string path = ::testing::TempDir() + "tendril-sink.jsonl";
  std::remove(path.c_str());
  {
    ts::ToolStatePublisher publisher(
        {.flush_interval = 20ms, .use_environment = false, .sink_path = path});
    for (int i = 0; i < 7; ++i) publisher.publish(numbered(0, i));
    EXPECT_EQ(publisher.stats().destination, "default sink (" + path + ")");
  }  // the destructor flushes
  std::ifstream sink(path);
  int lines = 0;
  for (std::string line; std::getline(sink, line); ++lines)
    EXPECT_EQ(ts::OrderedJson::parse(line)["seq"], lines);
  EXPECT_EQ(lines, 7);
}

TEST(Publisher, ASinkThatIsALinkOrAFifoIsRefusedAtOnceAndItsStatesCounted) {
  const std::string dir = ::testing::TempDir() + "tendril-sink-traps";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string target = dir + "/victim", link = dir + "/link.jsonl", fifo = dir + "/fifo";
  { std::ofstream(target) << "precious\n"; }
  std::filesystem::create_symlink(target, link);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& [path, why] : {std::pair{link, "is a symbolic link; refused"},
                                  std::pair{fifo, "is a FIFO with no reader; refused"}}) {
    const auto started = std::chrono::steady_clock::now();
    ts::ToolStatePublisher publisher(
        {.flush_interval = 10ms, .use_environment = false, .sink_path = path});
    for (int i = 0; i < 5; ++i) publisher.publish(numbered(0, i));
    EXPECT_FALSE(publisher.shutdown());  // not everything was delivered
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "waited on " << path;
    const auto stats = publisher.stats();
    EXPECT_EQ(stats.dropped, 5u) << path;
    EXPECT_EQ(stats.sent, 0u) << path;
    EXPECT_NE(stats.last_error.find("state file '" + path + "' " + why), std::string::npos)
        << stats.last_error;
  }
  std::ifstream victim(target);
  std::string content((std::istreambuf_iterator<char>(victim)), {});
  EXPECT_EQ(content, "precious\n");  // nothing written through the link
}

TEST(Publisher, AWriteErrorOnTheSinkIsSaidAndCountedNotSwallowed) {
  // /dev/full takes the open and fails every write with ENOSPC, as a full disk does.
  ts::ToolStatePublisher publisher(
      {.flush_interval = 10ms, .use_environment = false, .sink_path = "/dev/full"});
  for (int i = 0; i < 20; ++i) publisher.publish(numbered(0, i));
  EXPECT_FALSE(publisher.shutdown());
  const auto stats = publisher.stats();
  EXPECT_EQ(stats.dropped, 20u);
  EXPECT_EQ(stats.sent, 0u);
  EXPECT_NE(stats.last_error.find("writing to the default sink failed: No space left on device"),
            std::string::npos)
      << stats.last_error;
}

TEST(Publisher, ABadPortInTheEnvironmentIsReportedAndStatesStillGoSomewhere) {
  ::setenv("PREFECT_REDIS_MESSAGING_HOST", "localhost", 1);
  ::setenv("PREFECT_REDIS_MESSAGING_PORT", "abc", 1);
  const std::string path = ::testing::TempDir() + "tendril-sink-bad-port.jsonl";
  std::remove(path.c_str());
  ts::ToolStatePublisher publisher({.flush_interval = 20ms, .sink_path = path});
  ::unsetenv("PREFECT_REDIS_MESSAGING_HOST");
  ::unsetenv("PREFECT_REDIS_MESSAGING_PORT");
  publisher.publish(numbered(0, 0));
  ASSERT_TRUE(publisher.shutdown());
  const auto stats = publisher.stats();
  EXPECT_NE(stats.last_error.find("PREFECT_REDIS_MESSAGING_PORT=abc is not a port number"),
            std::string::npos);
  EXPECT_EQ(stats.sent, 1u);
}

TEST(Publisher, AWrongPasswordIsReportedAndPublishGoesOn) {
  tendril::testing::Watchdog watchdog(30s, "wrong password");
  RedisServer server("right");
  ts::ToolStatePublisher publisher(
      {.flush_interval = 20ms, .endpoint = with_password(server, "wrong")});
  publisher.publish(numbered(0, 0));
  ASSERT_TRUE(eventually([&] { return publisher.stats().retries > 0; }));
  EXPECT_NE(publisher.stats().last_error.find("logging in to"), std::string::npos);
  EXPECT_FALSE(publisher.shutdown(100ms)) << "it could not be sent";
  EXPECT_EQ(publisher.stats().dropped, 1u);
}

TEST(Publisher, TheSharedPublisherRefusesOtherOptionsLater) {
  ts::PublisherOptions options{.flush_interval = 50ms,
                               .use_environment = false,
                               .sink_path = ::testing::TempDir() + "tendril-shared.jsonl"};
  auto& first = ts::get_tool_state_publisher(options);
  EXPECT_EQ(&ts::get_tool_state_publisher(), &first);
  EXPECT_EQ(&ts::get_tool_state_publisher(options), &first) << "the same options are fine";
  options.batch_size = 7;
  EXPECT_THROW(ts::get_tool_state_publisher(options), std::logic_error);
}

TEST(ToolStateManager, PublishesTheRunsLifecycle) {
  tendril::testing::Watchdog watchdog(30s, "manager");
  RedisServer server;
  ts::ToolStatePublisher publisher({.flush_interval = 20ms, .endpoint = server.endpoint()});
  ts::ToolStateManager manager(publisher, "scan", {"walk", "hash"});
  manager.starting_tool();
  manager.publish_step_details("hash", "hashing", 10, 4, "a.txt");
  manager.failed_tool("disk gone");
  manager.completed_tool();
  ASSERT_TRUE(manager.finish());
  const auto states = read_all(server.port());
  ASSERT_EQ(states.size(), 4u);
  EXPECT_EQ(states[0]["state"], "RUNNING");
  EXPECT_EQ(states[1]["processed_files"], 4);
  EXPECT_EQ(states[1]["current_file_name"], "a.txt");
  EXPECT_EQ(states[2]["state"], "FAILED");
  EXPECT_EQ(states[2]["message"], "disk gone");
  EXPECT_EQ(states[3]["state"], "COMPLETED");
  EXPECT_EQ(states[3]["tool_name"], "scan");
  EXPECT_EQ(states[3]["steps"], ts::OrderedJson::array({"walk", "hash"}));
}

TEST(ToolStateManager, EachRunCarriesItsOwnToolRunId) {
  tendril::testing::Watchdog watchdog(30s, "run ids");
  RedisServer server;
  ts::ToolStatePublisher publisher({.flush_interval = 20ms, .endpoint = server.endpoint()});
  ts::ToolStateManager first(publisher, "scan"), second(publisher, "scan");
  EXPECT_NE(first.run_id(), second.run_id());
  EXPECT_TRUE(first.run_id().starts_with(publisher.stats().publisher_id + "."));
  first.starting_tool();
  second.starting_tool();
  first.completed_tool();
  ASSERT_TRUE(first.finish());
  const auto states = read_all(server.port());
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[0]["tool_run_id"], first.run_id());
  EXPECT_EQ(states[1]["tool_run_id"], second.run_id());
  EXPECT_EQ(states[2]["tool_run_id"], first.run_id());
}

TEST(Publisher, ANormalProcessExitFlushesTheSharedPublisher) {
  const std::string path = ::testing::TempDir() + "tendril-exit.jsonl";
  std::remove(path.c_str());
  const std::string command = std::string(TENDRIL_EXIT_PROBE) + " " + path;
  ASSERT_EQ(std::system(command.c_str()), 0);
  std::ifstream sink(path);
  int lines = 0;
  for (std::string line; std::getline(sink, line);) ++lines;
  EXPECT_EQ(lines, 5) << "queued states are flushed at exit, not lost";
}

TEST(Publisher, ABusyPublisherDoesNotStopTheWorkerFromSending) {
  tendril::testing::Watchdog watchdog(60s, "busy publisher");
  // A regression: the worker drained the ring until empty, which a fast publisher never lets
  // it be, so nothing was sent and the bound dropped the oldest.
  const std::string path = ::testing::TempDir() + "tendril-busy.jsonl";
  ts::ToolStatePublisher publisher(
      {.flush_interval = 10ms, .batch_size = 1000, .use_environment = false, .sink_path = path});
  std::vector<ts::ToolState> prepared(300000);
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    if (i % 1024 == 0)
      while (publisher.stats().depth > 50000) std::this_thread::yield();
    publisher.publish(std::move(prepared[i]));
  }
  EXPECT_GT(publisher.stats().sent, 0u) << "states were sent while publishing went on";
  ASSERT_TRUE(publisher.flush());
  EXPECT_EQ(publisher.stats().dropped, 0u);
  EXPECT_EQ(publisher.stats().sent, prepared.size());
  std::remove(path.c_str());
}

TEST(Publisher, AFlushIsSplitOnlyAboveTheByteLimit) {
  tendril::testing::Watchdog watchdog(30s, "split");
  RedisServer server;
  const std::size_t one = numbered(0, 0).to_json().dump().size();
  ts::ToolStatePublisher publisher({.flush_interval = 60s,
                                    .batch_size = 10,
                                    .max_command_bytes = 4 * one + 8,
                                    .endpoint = server.endpoint()});
  for (int i = 0; i < 10; ++i) publisher.publish(numbered(0, i));
  ASSERT_TRUE(eventually([&] { return publisher.stats().sent == 10; }));
  std::vector<ts::OrderedJson> attributes;
  const auto states = read_all(server.port(), "progress", &attributes);
  ASSERT_EQ(states.size(), 10u);
  ASSERT_EQ(attributes.size(), 3u) << "ten states of which four fit a command: 4 + 4 + 2";
  EXPECT_EQ(attributes[0]["count"], 4);
  EXPECT_EQ(attributes[2]["count"], 2);
  EXPECT_EQ(states[9]["seq"], 9);
}

TEST(Publisher, AStateRedisRefusesIsSetAsideAndTheRestGoOn) {
  tendril::testing::Watchdog watchdog(60s, "refused");
  RedisServer server;
  {
    auto admin = rd::Connection::open(server.endpoint());
    ASSERT_TRUE(admin);
    ASSERT_TRUE(admin->command({"CONFIG", "SET", "proto-max-bulk-len", "1048576"}));
  }
  ts::ToolStatePublisher publisher(
      {.flush_interval = 20ms, .batch_size = 1000, .endpoint = server.endpoint()});
  for (int i = 0; i < 50; ++i) publisher.publish(numbered(0, i));
  ts::ToolState huge = numbered(0, 50);
  huge.message = std::string(2 << 20, 'x');  // over Redis's 1 MiB bulk limit, alone
  publisher.publish(huge);
  for (int i = 51; i < 101; ++i) publisher.publish(numbered(0, i));
  EXPECT_FALSE(publisher.shutdown(20s)) << "one was set aside";
  const auto stats = publisher.stats();
  EXPECT_EQ(stats.refused, 1u);
  EXPECT_EQ(stats.dropped, 1u);
  EXPECT_EQ(stats.sent, 100u);
  EXPECT_NE(stats.last_error.find("Redis refused tool state #50"), std::string::npos)
      << stats.last_error;
  const auto states = read_all(server.port());
  ASSERT_EQ(states.size(), 100u);
  for (std::size_t i = 0; i < states.size(); ++i)
    EXPECT_EQ(states[i]["seq"], i < 50 ? static_cast<int>(i) : static_cast<int>(i) + 1);
}

TEST(Publisher, ACommandThatTimedOutIsResentCountedAndNumberedForDeduplication) {
  tendril::testing::Watchdog watchdog(60s, "resend");
  RedisServer server;
  auto endpoint = server.endpoint();
  endpoint.timeout = 300ms;
  ts::ToolStatePublisher publisher(
      {.flush_interval = 20ms, .batch_size = 1000, .endpoint = endpoint});
  publisher.publish(numbered(0, 0));
  ASSERT_TRUE(publisher.flush(10s));
  // Redis holds every write for 1.5 s: the next XADD times out, and Redis runs it later.
  {
    auto admin = rd::Connection::open(server.endpoint());
    ASSERT_TRUE(admin);
    ASSERT_TRUE(admin->command({"CLIENT", "PAUSE", "1500", "WRITE"}));
  }
  for (int i = 1; i < 40; ++i) publisher.publish(numbered(0, i));
  ASSERT_TRUE(publisher.shutdown(20s));
  const auto stats = publisher.stats();
  EXPECT_GT(stats.resent, 0u) << "a timed-out delivery is sent again and counted";
  std::vector<ts::OrderedJson> attributes;
  const auto states = read_all(server.port(), "progress", &attributes);
  ASSERT_GE(states.size(), 40u);
  EXPECT_LE(states.size() - 40, stats.resent) << "every duplicate was counted as resent";
  // (publisher, first_seq + index) numbers every state: the duplicates drop out exactly.
  std::set<std::pair<std::string, std::uint64_t>> unique;
  std::size_t at = 0;
  for (const auto& a : attributes) {
    EXPECT_EQ(a["publisher"], stats.publisher_id);
    for (std::uint64_t k = 0; k < a["count"].get<std::uint64_t>(); ++k, ++at) {
      const auto seq = a["first_seq"].get<std::uint64_t>() + k;
      EXPECT_EQ(states[at]["seq"], seq);
      unique.emplace(a["publisher"].get<std::string>(), seq);
    }
  }
  EXPECT_EQ(unique.size(), 40u);
}

// Wire::python: the bytes Python's original package writes (json.dumps of the batch), for a
// state the publisher writes and for one given as text; text that is not a JSON object is
// dropped and counted; on_batch hears each command's count.
TEST(Publisher, PythonWireWritesTheOriginalPackagesBytes) {
  tendril::testing::Watchdog watchdog(30s, "python wire");
  RedisServer server;
  std::mutex mutex;
  std::vector<std::size_t> batches;
  std::vector<std::string> warnings;
  ts::ToolStatePublisher publisher({.flush_interval = 60s,
                                    .batch_size = 3,
                                    .endpoint = server.endpoint(),
                                    .max_stream_length = 0,
                                    .max_stream_bytes = 0,
                                    .on_warning =
                                        [&](const std::string& line) {
                                          std::lock_guard lock(mutex);
                                          warnings.push_back(line);
                                        },
                                    .wire = ts::Wire::python,
                                    .on_batch =
                                        [&](std::size_t count) {
                                          std::lock_guard lock(mutex);
                                          batches.push_back(count);
                                        }});
  ts::ToolState state;
  state.flow_run_id = "run-1";
  state.state = "RUNNING";
  state.tool_name = "scan \xc3\xbc \xf0\x9f\x98\x80\x7f\"q\"";  // ü, an emoji, DEL, quotes
  state.message = "line\nnext";
  state.total_files = 3;
  state.processed_files = 1;
  state.current_file_name = "/a/b.txt";
  state.steps = {"walk", "hash"};
  state.timestamp = "2026-12-02T10:00:00+00:00";
  state.extra = ts::OrderedJson{
      {"ratio", 0.5}, {"big", 1e16}, {"small", 1e-5}, {"ok", true}, {"none", nullptr}};
  publisher.publish(state);
  const std::string given = R"({"type": "ToolState", "x": 1.50, "s": "\u00fc"})";
  EXPECT_TRUE(publisher.publish_json("not json"));  // taken now, dropped by the worker
  EXPECT_TRUE(publisher.publish_json(given));
  EXPECT_FALSE(publisher.flush(10s)) << "not all went: one was dropped";
  ASSERT_TRUE(eventually([&] { return publisher.stats().sent == 2; }));

  auto reader = rd::Connection::open(at_port(server.port()));
  ASSERT_TRUE(reader) << reader.error().message;
  auto reply = reader->command({"XRANGE", "progress", "-", "+"});
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->elements.size(), 1u) << "one XADD for the flush";
  const auto& fields = reply->elements[0].elements[1].elements;
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields[0].text, "data");
  EXPECT_EQ(fields[2].text, "attributes");
  // What python3 -c 'import json; print(json.dumps({"schema": "PythonTool", "data": [...]}))'
  // prints for the same state, then the given text as it was given.
  const std::string expected =
      R"({"schema": "PythonTool", "data": [{"type": "ToolState", "flow_run_id": "run-1", )"
      R"("state": "RUNNING", "tool_name": "scan \u00fc \ud83d\ude00\u007f\"q\"", )"
      R"("step_name": "", "message": "line\nnext", "total_files": 3, "processed_files": 1, )"
      R"("current_file_name": "/a/b.txt", "steps": ["walk", "hash"], )"
      R"("timestamp": "2026-12-02T10:00:00+00:00", "ratio": 0.5, "big": 1e+16, )"
      R"("small": 1e-05, "ok": true, "none": null}, )" +
      given + "]}";
  EXPECT_EQ(fields[1].text, expected);
  const auto attributes = ts::OrderedJson::parse(fields[3].text);
  std::vector<std::string> keys;
  for (const auto& [key, value] : attributes.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"event_type", "count", "timestamp"}));
  EXPECT_EQ(fields[3].text.rfind(R"({"event_type": "tool", "count": 2, "timestamp": ")", 0), 0u)
      << fields[3].text;
  const auto stats = publisher.stats();
  EXPECT_EQ(stats.sent, 2u);
  EXPECT_EQ(stats.dropped, 1u) << "the text that is not a JSON object";
  std::lock_guard lock(mutex);
  EXPECT_EQ(batches, (std::vector<std::size_t>{2}));
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("not one JSON object"), std::string::npos) << warnings[0];
}
