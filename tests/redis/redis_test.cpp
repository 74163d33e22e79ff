// The Redis layer against a real redis-server: endpoints from URLs and the environment, and
// connections that log in, pipeline, and say whether a retry can help.
#include <tendril/redis/connection.hpp>
#include <tendril/redis/endpoint.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include "support/redis_server.hpp"

namespace rd = tendril::redis;
using tendril::testing::at_port;
using tendril::testing::RedisServer;
using tendril::testing::with_password;

namespace {

// Sets PREFECT_REDIS_MESSAGING_* for one test and clears them afterwards.
struct Environment {
  ~Environment() {
    for (const char* name : {"URL", "HOST", "PORT", "DB", "USERNAME", "PASSWORD", "SSL"})
      ::unsetenv((std::string("PREFECT_REDIS_MESSAGING_") + name).c_str());
  }
  void set(const std::string& name, const std::string& value) {
    ::setenv(("PREFECT_REDIS_MESSAGING_" + name).c_str(), value.c_str(), 1);
  }
};

}  // namespace

TEST(RedisEndpoint, ParsesAFullUrl) {
  auto endpoint = rd::Endpoint::parse_url("redis://alice:s3cret@cache.local:6380/2");
  ASSERT_TRUE(endpoint) << endpoint.error().message;
  EXPECT_EQ(endpoint->username, "alice");
  EXPECT_EQ(endpoint->password, "s3cret");
  EXPECT_EQ(endpoint->host, "cache.local");
  EXPECT_EQ(endpoint->port, 6380);
  EXPECT_EQ(endpoint->db, 2);
  EXPECT_EQ(endpoint->describe(), "redis://alice@cache.local:6380/2") << "no password in logs";
}

TEST(RedisEndpoint, BadUrlsAreErrorsNamingThePart) {
  EXPECT_NE(rd::Endpoint::parse_url("http://x").error().message.find("must start with redis://"),
            std::string::npos);
  EXPECT_NE(rd::Endpoint::parse_url("redis://x:abc").error().message.find("port 'abc'"),
            std::string::npos);
  EXPECT_NE(rd::Endpoint::parse_url("rediss://x").error().message.find("TLS"), std::string::npos);
}

TEST(RedisEndpoint, NothingConfiguredMeansNoRedis) {
  Environment env;
  auto endpoint = rd::Endpoint::from_environment();
  ASSERT_TRUE(endpoint);
  EXPECT_FALSE(endpoint->has_value());
}

TEST(RedisEndpoint, ReadsThePartsFromTheEnvironment) {
  Environment env;
  env.set("HOST", "redis.internal");
  env.set("PORT", "6390");
  env.set("DB", "3");
  env.set("PASSWORD", "pw");
  auto endpoint = rd::Endpoint::from_environment();
  ASSERT_TRUE(endpoint && *endpoint);
  EXPECT_EQ((*endpoint)->host, "redis.internal");
  EXPECT_EQ((*endpoint)->port, 6390);
  EXPECT_EQ((*endpoint)->db, 3);
  EXPECT_EQ((*endpoint)->username, "default");
  EXPECT_EQ((*endpoint)->password, "pw");
}

TEST(RedisEndpoint, TheUrlWinsOverTheParts) {
  Environment env;
  env.set("HOST", "ignored");
  env.set("URL", "redis://other:7000");
  auto endpoint = rd::Endpoint::from_environment();
  ASSERT_TRUE(endpoint && *endpoint);
  EXPECT_EQ((*endpoint)->host, "other");
  EXPECT_EQ((*endpoint)->port, 7000);
}

TEST(RedisEndpoint, APortThatIsNotANumberIsAnErrorNamingTheVariable) {
  Environment env;
  env.set("HOST", "localhost");
  env.set("PORT", "abc");
  auto endpoint = rd::Endpoint::from_environment();
  ASSERT_FALSE(endpoint);
  EXPECT_EQ(endpoint.error().message,
            "PREFECT_REDIS_MESSAGING_PORT=abc is not a port number (1-65535)");
}

TEST(RedisEndpoint, EveryTrueLookingSslValueIsTheSameNoTlsError) {
  Environment env;
  env.set("HOST", "localhost");
  for (const char* yes : {"true", "TRUE", "1", "on", "On", "yes", "y", "t"}) {
    env.set("SSL", yes);
    auto endpoint = rd::Endpoint::from_environment();
    ASSERT_FALSE(endpoint) << yes;
    EXPECT_EQ(endpoint.error().message, std::string("PREFECT_REDIS_MESSAGING_SSL=") + yes +
                                            ": TLS is not supported by this build (hiredis 0.14 "
                                            "has none)");
  }
  for (const char* no : {"false", "0", "off", "no", "N"}) {
    env.set("SSL", no);
    EXPECT_TRUE(rd::Endpoint::from_environment()) << no;
  }
  env.set("SSL", "maybe");
  auto unclear = rd::Endpoint::from_environment();
  ASSERT_FALSE(unclear);
  EXPECT_NE(unclear.error().message.find("SSL=maybe is neither true"), std::string::npos);
}

TEST(RedisEndpoint, NoErrorEverShowsThePassword) {
  const std::string secret = "HUNTER2pw";
  const std::vector<std::string> bad_urls = {
      "redis://bob:" + secret + "@host:abc", "redis://bob:" + secret + "@host/x",
      "rediss://bob:" + secret + "@host", "http://bob:" + secret + "@host",
      "redis://bob:" + secret + "@host?timeout=1", "redis://bob:" + secret + "%zz@host",
      "redis://bob:" + secret + "@", "redis://bob:" + secret + "@[::1",
      "redis://bob:" + secret + "@host:",
      // a '?' in the password (found by fuzz_redis_endpoint)
      "redis://bob:pa?" + secret + "@host"};
  for (const auto& url : bad_urls) {
    auto endpoint = rd::Endpoint::parse_url(url);
    ASSERT_FALSE(endpoint) << "accepted: " << url;
    EXPECT_EQ(endpoint.error().message.find(secret), std::string::npos) << endpoint.error().message;
    EXPECT_NE(endpoint.error().message.find("***"), std::string::npos) << endpoint.error().message;
  }
  Environment env;
  env.set("URL", "redis://bob:" + secret + "@host:99999");
  auto from_env = rd::Endpoint::from_environment();
  ASSERT_FALSE(from_env);
  EXPECT_EQ(from_env.error().message.find(secret), std::string::npos) << from_env.error().message;
  EXPECT_NE(from_env.error().message.find("PREFECT_REDIS_MESSAGING_URL"), std::string::npos);
}

TEST(RedisEndpoint, PercentEncodedCredentialsIpv6HostsAndQueriesAreUnderstood) {
  auto encoded = rd::Endpoint::parse_url("redis://us%40er:p%3Ass%2Fw%40rd@cache:6380/1");
  ASSERT_TRUE(encoded) << encoded.error().message;
  EXPECT_EQ(encoded->username, "us@er");
  EXPECT_EQ(encoded->password, "p:ss/w@rd");
  EXPECT_EQ(encoded->host, "cache");
  auto v6 = rd::Endpoint::parse_url("redis://[::1]:6390/2");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 6390);
  EXPECT_EQ(v6->db, 2);
  auto v6_default_port = rd::Endpoint::parse_url("redis://[::1]");
  ASSERT_TRUE(v6_default_port);
  EXPECT_EQ(v6_default_port->port, 6379);
  auto query = rd::Endpoint::parse_url("redis://host/0?timeout=5");
  ASSERT_FALSE(query);
  EXPECT_NE(query.error().message.find("query parameters ('?timeout=5') are not supported"),
            std::string::npos)
      << query.error().message;
  auto in_password = rd::Endpoint::parse_url("redis://u:pa?ss@host");
  ASSERT_FALSE(in_password);
  EXPECT_EQ(in_password.error().message,
            "redis URL 'redis://u:***@host': a '?' in the user name or password must be written "
            "%3F");
}

TEST(RedisConnection, TalksToARealServerAndPipelines) {
  RedisServer server;
  auto connection = rd::Connection::open(server.endpoint());
  ASSERT_TRUE(connection) << connection.error().message;
  auto pong = connection->command({"PING"});
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->text, "PONG");
  const std::string binary("v\0w", 3);  // values are byte strings, NULs and all
  auto replies = connection->pipeline(
      {{"SET", "k", binary}, {"GET", "k"}, {"INCRBY", "n", "5"}, {"NOSUCHCOMMAND"}});
  ASSERT_TRUE(replies);
  ASSERT_EQ(replies->size(), 4u);
  EXPECT_EQ((*replies)[1].text, binary);
  EXPECT_EQ((*replies)[2].integer, 5);
  EXPECT_EQ((*replies)[3].type, rd::Reply::Type::error) << "error replies stay in a pipeline";
  auto refused = connection->command({"NOSUCHCOMMAND"});
  ASSERT_FALSE(refused);
  EXPECT_FALSE(refused.error().retryable());
  EXPECT_EQ(refused.error().kind, tendril::ErrorKind::refused);
  EXPECT_NE(refused.error().message.find("Redis refused NOSUCHCOMMAND"), std::string::npos);
}

TEST(RedisConnection, ABulkOverTheServersLimitIsARefusalSayingSoNotABrokenPipe) {
  RedisServer server;
  auto connection = rd::Connection::open(server.endpoint());
  ASSERT_TRUE(connection);
  ASSERT_TRUE(connection->command({"CONFIG", "SET", "proto-max-bulk-len", "1048576"}));
  // Redis answers the header and hangs up while 32 MiB are still being written: the write
  // fails with EPIPE or ECONNRESET, yet the reply that says why is already here.
  auto refused = connection->command({"SET", "k", std::string(32 << 20, 'x')});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, tendril::ErrorKind::refused) << refused.error().message;
  EXPECT_NE(refused.error().message.find("Redis refused SET: ERR Protocol error: invalid bulk "
                                         "length"),
            std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(connection->healthy()) << "Redis closed it";
  auto fresh = rd::Connection::open(server.endpoint());
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->command({"EXISTS", "k"})->integer, 0);
}

TEST(RedisConnection, LogsInWithAPasswordAndSelectsTheDatabase) {
  RedisServer server("s3cret");
  auto endpoint = with_password(server, "s3cret");
  endpoint.db = 4;
  auto connection = rd::Connection::open(endpoint);
  ASSERT_TRUE(connection) << connection.error().message;
  ASSERT_TRUE(connection->command({"SET", "here", "1"}));
  auto other = rd::Connection::open(with_password(server, "s3cret"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->command({"EXISTS", "here"})->integer, 0) << "the key lives in database 4";
}

TEST(RedisConnection, AWrongPasswordIsANonRetryableErrorNamingTheLogin) {
  RedisServer server("right");
  auto connection = rd::Connection::open(with_password(server, "wrong"));
  ASSERT_FALSE(connection);
  EXPECT_FALSE(connection.error().retryable());
  EXPECT_EQ(connection.error().kind, tendril::ErrorKind::refused);
  EXPECT_NE(connection.error().message.find("logging in to redis://default@127.0.0.1"),
            std::string::npos)
      << connection.error().message;
  EXPECT_NE(connection.error().message.find("WRONGPASS"), std::string::npos);
}

TEST(RedisConnection, AnUnreachableServerIsARetryableErrorNamingIt) {
  RedisServer server;
  const int port = server.port();
  server.kill();
  auto connection = rd::Connection::open(at_port(port));
  ASSERT_FALSE(connection);
  EXPECT_TRUE(connection.error().retryable());
  EXPECT_EQ(connection.error().kind, tendril::ErrorKind::connection);
  EXPECT_NE(connection.error().message.find("connecting to redis://default@127.0.0.1:" +
                                            std::to_string(port)),
            std::string::npos)
      << connection.error().message;
}

TEST(RedisConnection, AServerKilledMidConnectionIsARetryableError) {
  RedisServer server;
  auto connection = rd::Connection::open(server.endpoint());
  ASSERT_TRUE(connection);
  server.kill();
  auto reply = connection->command({"PING"});
  ASSERT_FALSE(reply);
  EXPECT_TRUE(reply.error().retryable());
  EXPECT_EQ(reply.error().kind, tendril::ErrorKind::connection);
  EXPECT_FALSE(connection->healthy());
}

namespace {

// A peer that takes a connection and closes it at once, as a dying server does: its FIN leaves
// our socket half-closed, a write then draws a reset, and the write after that fails with EPIPE,
// raising SIGPIPE.
class ClosingPeer {
 public:
  ClosingPeer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      throw std::runtime_error("cannot listen on loopback");
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      for (int i = 0; i < 3; ++i) {
        const int peer = ::accept(listener_, nullptr, nullptr);
        if (peer < 0) return;
        ::close(peer);
      }
    });
  }
  ~ClosingPeer() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

TEST(RedisConnection, APeerClosingItsSocketNeverKillsTheProcessWithSigpipe) {
  // The default disposition of SIGPIPE ends the process: if any write raised it unshielded,
  // this test program would die here.
  struct sigaction previous {};
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ASSERT_EQ(::sigaction(SIGPIPE, &dfl, &previous), 0);
  ClosingPeer peer;
  std::vector<rd::Connection> connections;
  for (int i = 0; i < 3; ++i) {
    auto c = rd::Connection::open(at_port(peer.port()));  // no password: nothing is sent yet
    ASSERT_TRUE(c) << c.error().message;
    connections.push_back(std::move(*c));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the peer's FIN arrives
  const std::string big(8 << 20, 'x');  // far more than a socket buffer: several writes
  for (auto& c : connections) {
    auto reply = c.command({"SET", "k", big});
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().kind, tendril::ErrorKind::connection) << reply.error().message;
  }
  // The program's own disposition and mask are as they were, and no SIGPIPE is left pending.
  struct sigaction now {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
  sigset_t mask, pending;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  EXPECT_EQ(sigismember(&mask, SIGPIPE), 0);
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
  ::sigaction(SIGPIPE, &previous, nullptr);
}
