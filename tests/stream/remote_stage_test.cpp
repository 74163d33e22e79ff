// Remote stages and stream workers against a real redis-server: items out through the work
// stream, results back, failures as values, crash recovery, dead letters, bounded streams,
// backpressure, cancellation and Redis faults.
#include <tendril/redis/connection.hpp>
#include <tendril/stream/remote_stage.hpp>
#include <tendril/stream/worker.hpp>
#include <tendril/tendril.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <numeric>
#include <ranges>
#include <set>
#include <thread>
#include <vector>

#include "support/eventually.hpp"
#include "support/redis_server.hpp"
#include "support/watchdog.hpp"

namespace rd = tendril::redis;
namespace ts = tendril::stream;
using namespace std::chrono_literals;
using tendril::testing::RedisServer;
using test_support::eventually;

namespace {

struct Point {
  int x = 0;
  std::string label;
  friend void to_json(nlohmann::json& j, const Point& p) { j = {{"x", p.x}, {"label", p.label}}; }
  friend void from_json(const nlohmann::json& j, Point& p) {
    j.at("x").get_to(p.x);
    j.at("label").get_to(p.label);
  }
};

// A stream worker serving on its own thread until the fixture ends.
class Serving {
 public:
  explicit Serving(ts::StreamWorker worker) : worker_(std::move(worker)) {
    thread_ = std::jthread([this](std::stop_token stop) { outcome_ = worker_.run(stop); });
  }
  ~Serving() { stop(); }
  tendril::Result<ts::WorkerStats> stop() {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
    return outcome_;
  }
  ts::WorkerStats stats() const { return worker_.stats(); }

 private:
  ts::StreamWorker worker_;
  tendril::Result<ts::WorkerStats> outcome_;
  std::jthread thread_;
};

long long integer(rd::Connection& c, const std::vector<std::string>& command) {
  auto reply = c.command(command);
  return reply ? reply->integer : -1;
}

// XINFO GROUPS' field of the first group.
long long group_field(rd::Connection& c, const std::string& stream, const std::string& field) {
  auto reply = c.command({"XINFO", "GROUPS", stream});
  if (!reply || reply->elements.empty()) return -1;
  const auto& group = reply->elements[0].elements;
  for (std::size_t i = 0; i + 1 < group.size(); i += 2)
    if (group[i].text == field) return group[i + 1].integer;
  return -1;
}

// Items a stream entry carries: one (fields seq and data), or its `items` frames (8-byte seq,
// 4-byte little-endian length, bytes).
long long items_in(const rd::Reply& fields) {
  for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].text != "items") continue;
    const std::string& frames = fields.elements[i + 1].text;
    long long n = 0;
    for (std::size_t at = 0; at + 12 <= frames.size(); ++n) {
      std::uint32_t length = 0;
      for (int b = 0; b < 4; ++b)
        length |= static_cast<std::uint32_t>(static_cast<unsigned char>(frames[at + 8 + b]))
                  << (8 * b);
      at += 12 + length;
    }
    return n;
  }
  return 1;
}

// Items of a work stream not yet acknowledged by its (one) group: in pending entries or in
// entries not yet delivered, from one consistent snapshot (MULTI/EXEC).
long long items_out(rd::Connection& c, const std::string& stream, const std::string& group) {
  auto snapshot = c.pipeline({{"MULTI"},
                              {"XINFO", "GROUPS", stream},
                              {"XPENDING", stream, group, "-", "+", "100000"},
                              {"XRANGE", stream, "-", "+"},
                              {"EXEC"}});
  if (!snapshot || snapshot->back().elements.size() != 3) return 0;
  const auto& exec = snapshot->back().elements;
  std::string last;
  if (!exec[0].elements.empty()) {
    const auto& g = exec[0].elements[0].elements;
    for (std::size_t i = 0; i + 1 < g.size(); i += 2)
      if (g[i].text == "last-delivered-id") last = g[i + 1].text;
  }
  std::set<std::string> pending;
  for (const auto& row : exec[1].elements) pending.insert(row.elements[0].text);
  auto after = [](const std::string& a, const std::string& b) {  // stream id a > b
    auto split = [](const std::string& id) {
      const auto dash = id.find('-');
      return std::pair(std::stoull(id.substr(0, dash)), std::stoull(id.substr(dash + 1)));
    };
    return b.empty() || split(a) > split(b);
  };
  long long out = 0;
  for (const auto& entry : exec[2].elements) {
    const std::string& id = entry.elements[0].text;
    if (pending.contains(id) || after(id, last)) out += items_in(entry.elements[1]);
  }
  return out;
}

}  // namespace

TEST(StreamCodec, JsonAndBinaryRoundTripAndSayWhyBytesCannotBeRead) {
  const Point p{.x = 7, .label = "seven"};
  auto back = ts::JsonCodec<Point>::decode(ts::JsonCodec<Point>::encode(p));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->x, 7);
  EXPECT_EQ(back->label, "seven");
  auto garbage = ts::JsonCodec<Point>::decode("{\"x\": \"not a number\"}");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().kind, tendril::ErrorKind::invalid);
  EXPECT_NE(garbage.error().message.find("cannot decode the item"), std::string::npos);
  EXPECT_EQ(ts::BinaryCodec<double>::encode(2.5).size(), sizeof(double));
  EXPECT_EQ(*ts::BinaryCodec<double>::decode(ts::BinaryCodec<double>::encode(2.5)), 2.5);
  auto short_bytes = ts::BinaryCodec<std::uint64_t>::decode("abc");
  ASSERT_FALSE(short_bytes);
  EXPECT_NE(short_bytes.error().message.find("3 bytes where a 8-byte value was expected"),
            std::string::npos);
  EXPECT_EQ(*ts::BinaryCodec<std::string>::decode(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(RemoteStage, ItemsGoToStreamWorkersAndTheirResultsFlowOnCounted) {
  tendril::testing::Watchdog watchdog(60s, "round trip");
  RedisServer server;
  Serving worker(
      ts::stream_worker({.endpoint = server.endpoint(), .stage = "double", .num_workers = 2},
                        [](Point p, tendril::WorkerState& state) {
                          ++state.get_or_create("seen", [] { return 0; });
                          return Point{p.x * 2, p.label + "!"};
                        }));
  auto remote = ts::remote_stage<Point, Point>(
      {.endpoint = server.endpoint(), .stage = "double", .max_in_flight = 64});
  auto pipe = tendril::Pipeline(std::views::iota(0, 2000) | std::views::transform([](int i) {
                                  return Point{i, "p"};
                                })) >>
              remote >> tendril::work_pool([](Point p) { return p.x; });
  std::vector<int> got;
  for (int x : pipe.iter()) got.push_back(x);
  std::sort(got.begin(), got.end());
  ASSERT_EQ(got.size(), 2000u);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(got[i], 2 * i);
  const auto metrics = pipe.last_metrics();
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->stages[0].name, "double");
  EXPECT_EQ(metrics->stages[0].processed, 2000u) << "the remote work counts as the stage's";
  const auto stats = worker.stop();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->processed, 2000u);
  auto admin = rd::Connection::open(server.endpoint());
  EXPECT_EQ(group_field(*admin, "tendril:double:work", "pending"), 0) << "every entry acked";
  auto keys = admin->command({"KEYS", "tendril:double:results:*"});
  EXPECT_TRUE(keys->elements.empty()) << "the run's results stream is gone with the run";
}

TEST(RemoteStage, OrderedPassesResultsOnInInputOrderThoughWorkersFinishOutOfOrder) {
  tendril::testing::Watchdog watchdog(60s, "ordered");
  RedisServer server;
  auto jittery = [](int x) {
    std::this_thread::sleep_for(std::chrono::microseconds((x * 7919) % 3000));
    return x;
  };
  Serving worker(ts::stream_worker(
      {.endpoint = server.endpoint(), .stage = "o", .num_workers = 4, .batch = 1}, jittery));
  auto remote = ts::remote_stage<int, int>(
      {.endpoint = server.endpoint(), .stage = "o", .max_in_flight = 16, .ordered = true});
  std::vector<int> got;
  for (int x : (tendril::Pipeline(std::views::iota(0, 400)) >> remote).iter()) got.push_back(x);
  std::vector<int> expected(400);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(got, expected);
  auto unordered = ts::remote_stage<int, int>(
      {.endpoint = server.endpoint(), .stage = "o", .max_in_flight = 16});
  std::vector<int> as_done;
  for (int x : (tendril::Pipeline(std::views::iota(0, 400)) >> unordered).iter())
    as_done.push_back(x);
  EXPECT_NE(as_done, expected) << "without ordered, results come as they are done";
}

TEST(RemoteStage, AWorkersFailureComesBackAsTheItemsErrorAfterItsRetries) {
  tendril::testing::Watchdog watchdog(60s, "failures");
  RedisServer server;
  std::atomic<int> calls{0};
  Serving worker(ts::stream_worker({.endpoint = server.endpoint(), .stage = "picky", .retries = 3},
                                   [&](int x) {
                                     ++calls;
                                     if (x % 10 == 3) throw std::runtime_error("no threes");
                                     return x;
                                   }));
  std::vector<int> dead;
  std::mutex dead_mutex;
  auto remote =
      ts::remote_stage<int, int>({.endpoint = server.endpoint(),
                                  .stage = "picky",
                                  .on_error = tendril::OnError::pass,
                                  .dead_letter = [&](const int& x, const tendril::Error&) {
                                    std::lock_guard lock(dead_mutex);
                                    dead.push_back(x);
                                  }});
  auto pipe = tendril::Pipeline(std::views::iota(0, 100)) >> remote;
  int values = 0, errors = 0;
  for (auto& r : pipe.iter_results()) {
    if (r) {
      ++values;
    } else {
      ++errors;
      EXPECT_EQ(r.error().stage, "picky");
      EXPECT_EQ(r.error().attempts, 3);
      EXPECT_NE(r.error().message.find("no threes"), std::string::npos) << r.error().message;
    }
  }
  EXPECT_EQ(values, 90);
  EXPECT_EQ(errors, 10);
  EXPECT_EQ(calls.load(), 90 + 10 * 3) << "retries are the worker's: 3 attempts each";
  std::sort(dead.begin(), dead.end());
  EXPECT_EQ(dead, (std::vector<int>{3, 13, 23, 33, 43, 53, 63, 73, 83, 93}));
  EXPECT_EQ(pipe.last_metrics()->stages[0].failed, 10u);
}

TEST(StreamWorker, AnEntryThatCannotBeDecodedIsDeadLetteredWithWhyAndTheWorkerGoesOn) {
  tendril::testing::Watchdog watchdog(60s, "undecodable");
  RedisServer server;
  auto admin = rd::Connection::open(server.endpoint());
  ASSERT_TRUE(admin);
  ASSERT_TRUE(admin->command({"XGROUP", "CREATE", "results", "g", "$", "MKSTREAM"}));
  ASSERT_TRUE(admin->command({"XADD", "tendril:bin:work", "*", "run", "r", "seq", "0", "reply",
                              "results", "data", "xyz"}));
  ASSERT_TRUE(admin->command({"XADD", "tendril:bin:work", "*", "run", "r", "seq", "1", "reply",
                              "results", "data", ts::BinaryCodec<int>::encode(41)}));
  ASSERT_TRUE(admin->command({"XADD", "tendril:bin:work", "*", "junk", "1"}));
  Serving worker(ts::stream_worker<ts::BinaryCodec>({.endpoint = server.endpoint(), .stage = "bin"},
                                                    [](int x) { return x + 1; }));
  ASSERT_TRUE(eventually([&] { return integer(*admin, {"XLEN", "results"}) == 2; }));
  ASSERT_TRUE(eventually([&] { return integer(*admin, {"XLEN", "tendril:bin:dead"}) == 2; }));
  auto dead = admin->command({"XRANGE", "tendril:bin:dead", "-", "+"});
  ASSERT_EQ(dead->elements.size(), 2u);
  const auto& first = dead->elements[0].elements[1].elements;  // field, value, ...
  ASSERT_GE(first.size(), 4u);
  EXPECT_EQ(first[2].text, "error");
  EXPECT_NE(first[3].text.find("cannot decode the item: 3 bytes where a 4-byte value"),
            std::string::npos)
      << first[3].text;
  const auto& second = dead->elements[1].elements[1].elements;
  EXPECT_NE(second[3].text.find("without the fields"), std::string::npos) << second[3].text;
  auto results = admin->command({"XRANGE", "results", "-", "+"});
  const auto& failed = results->elements[0].elements[1].elements;  // seq 0 ok 0 error ...
  EXPECT_EQ(failed[3].text, "0");
  const auto& ok = results->elements[1].elements[1].elements;
  EXPECT_EQ(*ts::BinaryCodec<int>::decode(ok[5].text), 42) << "the next entry was served";
  const auto stats = worker.stop();
  EXPECT_EQ(stats->dead_lettered, 2u);
  EXPECT_EQ(stats->processed, 1u);
  EXPECT_EQ(group_field(*admin, "tendril:bin:work", "pending"), 0);
}

TEST(StreamWorker, EntriesADeadConsumerHeldAreClaimedAndDoneAndOverDeliveredOnesDeadLettered) {
  tendril::testing::Watchdog watchdog(60s, "claim");
  RedisServer server;
  auto admin = rd::Connection::open(server.endpoint());
  ASSERT_TRUE(admin);
  ASSERT_TRUE(admin->command({"XGROUP", "CREATE", "tendril:sq:work", "sq", "0", "MKSTREAM"}));
  ASSERT_TRUE(admin->command({"XGROUP", "CREATE", "res", "g", "$", "MKSTREAM"}));
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(admin->command({"XADD", "tendril:sq:work", "*", "run", "r", "seq",
                                std::to_string(i), "reply", "res", "data", std::to_string(i)}));
  // A consumer takes all twenty and dies without a word.
  auto taken = admin->command(
      {"XREADGROUP", "GROUP", "sq", "ghost", "COUNT", "20", "STREAMS", "tendril:sq:work", ">"});
  ASSERT_TRUE(taken);
  // One of them has already been delivered (and lost) five times.
  auto first_id = admin->command({"XRANGE", "tendril:sq:work", "-", "+", "COUNT", "1"});
  const std::string poison = first_id->elements[0].elements[0].text;
  ASSERT_TRUE(
      admin->command({"XCLAIM", "tendril:sq:work", "sq", "ghost", "0", poison, "RETRYCOUNT", "5"}));
  std::this_thread::sleep_for(250ms);
  std::mutex keys_mutex;
  std::set<std::string> keys;
  Serving worker(ts::stream_worker(
      {.endpoint = server.endpoint(), .stage = "sq", .min_idle = 200ms, .max_deliveries = 3},
      [&](int x) {
        std::lock_guard lock(keys_mutex);
        keys.insert(std::string(ts::current_item_key()));
        return x * x;
      }));
  ASSERT_TRUE(eventually([&] { return integer(*admin, {"XLEN", "res"}) == 20; }));
  const auto stats = worker.stop();
  EXPECT_EQ(stats->claimed, 20u);
  EXPECT_EQ(stats->processed, 19u);
  EXPECT_EQ(stats->dead_lettered, 1u);
  auto dead = admin->command({"XRANGE", "tendril:sq:dead", "-", "+"});
  ASSERT_EQ(dead->elements.size(), 1u);
  const auto& fields = dead->elements[0].elements[1].elements;
  EXPECT_EQ(fields[1].text, poison);
  EXPECT_NE(fields[3].text.find("delivered 6 times, more than max_deliveries (3)"),
            std::string::npos)
      << fields[3].text;
  EXPECT_EQ(fields[5].text, "6") << "the delivery count";
  EXPECT_EQ(group_field(*admin, "tendril:sq:work", "pending"), 0) << "nothing stays pending";
  EXPECT_EQ(keys.size(), 19u);
  EXPECT_TRUE(keys.contains("r:7")) << "the idempotency key is the run and the item's seq";
  EXPECT_TRUE(ts::current_item_key().empty()) << "outside a handler there is none";
}

TEST(StreamWorker, ALongItemKeepsItsLeaseSoNoOtherWorkerTakesIt) {
  tendril::testing::Watchdog watchdog(60s, "lease");
  RedisServer server;
  std::atomic<int> runs{0};
  auto slow = [&](int x) {
    ++runs;
    std::this_thread::sleep_for(1200ms);  // six times min_idle
    return x;
  };
  Serving a(ts::stream_worker(
      {.endpoint = server.endpoint(), .stage = "slow", .consumer = "a", .min_idle = 200ms}, slow));
  Serving b(ts::stream_worker(
      {.endpoint = server.endpoint(), .stage = "slow", .consumer = "b", .min_idle = 200ms}, slow));
  auto remote = ts::remote_stage<int, int>({.endpoint = server.endpoint(), .stage = "slow"});
  auto run = (tendril::Pipeline(std::views::iota(0, 2)) >> remote).run();
  ASSERT_TRUE(run);
  EXPECT_EQ(run->processed, 2u);
  EXPECT_EQ(runs.load(), 2) << "each item ran once: its lease was renewed while it ran";
  EXPECT_EQ(a.stop()->claimed + b.stop()->claimed, 0u);
}

TEST(RemoteStage, StreamsStayBoundedAndTheProducerKeepsAtMostMaxInFlightOut) {
  tendril::testing::Watchdog watchdog(120s, "bounded");
  RedisServer server;
  Serving worker(ts::stream_worker<ts::BinaryCodec>(
      {.endpoint = server.endpoint(), .stage = "b", .num_workers = 2}, [](std::uint64_t x) {
        if (x % 1000 == 0) std::this_thread::sleep_for(2ms);
        return x + 1;
      }));
  auto remote = ts::remote_stage<std::uint64_t, std::uint64_t, ts::BinaryCodec>(
      {.endpoint = server.endpoint(), .stage = "b", .max_in_flight = 32});
  auto admin = rd::Connection::open(server.endpoint());
  std::atomic<bool> done{false};
  long long most_out = 0, longest = 0;
  std::thread sampler([&] {
    auto probe = rd::Connection::open(server.endpoint());
    while (!done) {
      const long long out = items_out(*probe, "tendril:b:work", "b");
      most_out = std::max(most_out, out);
      longest = std::max(longest, integer(*probe, {"XLEN", "tendril:b:work"}));
      std::this_thread::sleep_for(1ms);
    }
  });
  auto run =
      (tendril::Pipeline(std::views::iota(std::uint64_t{0}, std::uint64_t{50000})) >> remote).run();
  done = true;
  sampler.join();
  ASSERT_TRUE(run) << run.error().describe();
  EXPECT_EQ(run->processed, 50000u);
  EXPECT_LE(most_out, 32) << "never more than max_in_flight items un-acknowledged";
  EXPECT_GT(most_out, 0);
  ASSERT_TRUE(eventually(
      [&] {
        return integer(*admin, {"XLEN", "tendril:b:work"}) < 300;
      },
      5s))
      << "trimmed with MINID below what is still needed: "
      << integer(*admin, {"XLEN", "tendril:b:work"}) << " entries left";
  EXPECT_LT(longest, 1000) << "and bounded during the run";
}

TEST(RemoteStage, CancellingTheRunMakesWorkersDropItsRemainingEntries) {
  tendril::testing::Watchdog watchdog(60s, "cancel");
  RedisServer server;
  Serving worker(ts::stream_worker({.endpoint = server.endpoint(), .stage = "c"}, [](int x) {
    std::this_thread::sleep_for(20ms);
    return x;
  }));
  auto remote = ts::remote_stage<int, int>(
      {.endpoint = server.endpoint(), .stage = "c", .max_in_flight = 200});
  auto pipe = tendril::Pipeline(std::views::iota(0, 1000)) >> remote;
  std::jthread canceller([&] {
    std::this_thread::sleep_for(300ms);
    pipe.cancel("enough");
  });
  auto run = pipe.run();
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().kind, tendril::ErrorKind::cancelled);
  auto admin = rd::Connection::open(server.endpoint());
  ASSERT_TRUE(eventually(
      [&] {
        return group_field(*admin, "tendril:c:work", "pending") == 0 &&
               group_field(*admin, "tendril:c:work", "lag") == 0;
      },
      10s));
  const auto stats = worker.stop();
  EXPECT_GT(stats->dropped, 100u) << "the cancelled run's entries were dropped, not run";
  EXPECT_LT(stats->processed, 100u);
}

TEST(StreamWorker, AStoppedWorkerFinishesItsItemAndHandsBackWhatItHadNotBegun) {
  tendril::testing::Watchdog watchdog(60s, "hand back");
  RedisServer server;
  std::atomic<int> started{0};
  auto slow = [&](int x) {
    ++started;
    std::this_thread::sleep_for(100ms);
    return x;
  };
  auto remote = ts::remote_stage<int, int>(
      {.endpoint = server.endpoint(), .stage = "h", .max_in_flight = 40, .items_per_entry = 1});
  std::vector<int> got;
  std::jthread producer([&] {
    for (int x : (tendril::Pipeline(std::views::iota(0, 40)) >> remote).iter()) got.push_back(x);
  });
  auto admin = rd::Connection::open(server.endpoint());
  ASSERT_TRUE(eventually([&] {
    return integer(*admin, {"XLEN", "tendril:h:work"}) == 40;
  })) << "all forty wait before any worker reads";
  ts::WorkerStats first;
  {
    Serving a(ts::stream_worker(
        {.endpoint = server.endpoint(), .stage = "h", .consumer = "a", .batch = 8}, slow));
    ASSERT_TRUE(eventually([&] { return started.load() >= 1; }));
    first = a.stop().value();  // mid-batch: one item running, seven fetched and waiting
  }
  EXPECT_GE(first.handed_back, 1u) << "what was fetched and not begun went back";
  EXPECT_EQ(first.processed + first.handed_back, 8u) << "the item under way was finished";
  Serving b(ts::stream_worker(
      {.endpoint = server.endpoint(), .stage = "h", .consumer = "b", .batch = 8}, slow));
  producer.join();
  std::sort(got.begin(), got.end());
  std::vector<int> expected(40);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(got, expected) << "the handed-back items were done by the other worker, at once";
  EXPECT_EQ(b.stop()->claimed, 0u) << "no waiting for min_idle: nothing had to be claimed";
}

TEST(StreamWorker, RedisDownAtTheStartOrAWrongPasswordIsANamedError) {
  RedisServer server("right");
  auto endpoint = server.endpoint();
  endpoint.password = "wrong";
  auto refused =
      ts::stream_worker({.endpoint = endpoint, .stage = "x"}, [](int x) { return x; }).run();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("WRONGPASS"), std::string::npos);
  EXPECT_EQ(refused.error().message.find("wrong"), refused.error().message.find("wrong pass"))
      << "the password itself never shows: " << refused.error().message;
  const int port = server.port();
  server.kill();
  auto down =
      ts::stream_worker({.endpoint = tendril::testing::at_port(port), .stage = "x"}, [](int x) {
        return x;
      }).run();
  ASSERT_FALSE(down);
  EXPECT_NE(down.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << down.error().message;
  auto remote =
      ts::remote_stage<int, int>({.endpoint = tendril::testing::at_port(port), .stage = "x"});
  auto run = (tendril::Pipeline(std::views::iota(0, 10)) >> remote).run();
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().kind, tendril::ErrorKind::connection);
  EXPECT_NE(run.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST(RemoteStage, ARedisRestartMidRunLosesNothing) {
  tendril::testing::Watchdog watchdog(120s, "restart");
  RedisServer server({}, RedisServer::Durability::fsync_always);
  Serving worker(
      ts::stream_worker({.endpoint = server.endpoint(), .stage = "r", .num_workers = 2}, [](int x) {
        std::this_thread::sleep_for(1ms);
        return x;
      }));
  auto remote = ts::remote_stage<int, int>(
      {.endpoint = server.endpoint(), .stage = "r", .max_in_flight = 16});
  auto pipe = tendril::Pipeline(std::views::iota(0, 3000)) >> remote;
  std::jthread restarter([&] {
    std::this_thread::sleep_for(500ms);
    server.kill();
    std::this_thread::sleep_for(300ms);
    server.restart();
  });
  std::set<int> got;
  for (int x : pipe.iter()) got.insert(x);
  EXPECT_EQ(got.size(), 3000u) << "every item came back";
  const auto stats = worker.stop();
  EXPECT_GT(stats->reconnects, 0u) << "the worker did see Redis go";
}
