// tendril/redis/connection.hpp — one connection to Redis, over hiredis 0.14, owned (RAII).
//
// Synchronous: each call sends and waits for its reply, within the endpoint's timeout.
// pipeline() sends many commands in one round trip. Errors are `tendril::Error` values whose
// kind says whether a retry can help: `connection` (retryable) when the connection failed
// (refused, reset, timed out); `refused` (not retryable) when Redis refused the request (a wrong
// password, an unknown command). Not thread-safe: one connection per thread. Movable.
#pragma once

#include <cstdint>
#include <expected>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "tendril/core/error.hpp"
#include "tendril/redis/endpoint.hpp"

struct redisContext;

namespace tendril::redis {

struct Reply {
  enum class Type { nil, string, status, integer, array, error };
  Type type = Type::nil;
  std::string text = {};  // string, status and error replies
  long long integer = 0;
  std::vector<Reply> elements = {};
};

// What a Redis call returns: a value, or an Error of kind `connection` or `refused`.
template <class T>
using RedisResult = Result<T>;

// Decodes one reply from RESP2 bytes, with the reader a Connection uses (hiredis's, which caps
// nesting at 7 levels). Bytes after the first reply are ignored. An incomplete or malformed reply
// is an `invalid` Error saying so, and so is an array header larger than the bytes given could
// hold (which the reader would allocate for up front). For tests and captured traffic.
Result<Reply> decode_reply(std::string_view resp);

// Commands for one round trip, written straight into the wire format (RESP) as they are added:
// no per-argument strings, for hot paths that send many commands at once. Not thread-safe.
class Commands {
 public:
  // Starts a command of `arguments` arguments; add them with arg().
  Commands& begin(std::size_t arguments);
  Commands& arg(std::string_view value);
  Commands& arg(std::uint64_t value);
  // A whole command at once.
  Commands& add(std::initializer_list<std::string_view> command);

  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  void clear() noexcept {
    wire_.clear();
    count_ = 0;
  }
  const std::string& wire() const noexcept { return wire_; }

 private:
  std::string wire_;
  std::size_t count_ = 0;
};

class Connection {
 public:
  // Connects, sets the timeouts, logs in (AUTH, only when a password is set) and selects the
  // database.
  static RedisResult<Connection> open(const Endpoint& endpoint);

  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // One command; an error reply becomes a `refused` Error naming the command.
  RedisResult<Reply> command(const std::vector<std::string>& args);
  // The same for one command already in the wire format (no argument copied again): `name`
  // (its verb) names it in errors.
  RedisResult<Reply> command(const Commands& one, std::string_view name);
  // Many commands in one round trip; error replies stay in the result as Type::error.
  RedisResult<std::vector<Reply>> pipeline(const std::vector<std::vector<std::string>>& commands);
  RedisResult<std::vector<Reply>> pipeline(const Commands& commands);
  // The next reply Redis pushes without a command (pub/sub messages), within the timeout.
  RedisResult<Reply> receive();
  // True while the connection has not failed.
  bool healthy() const noexcept;
  const Endpoint& endpoint() const noexcept { return endpoint_; }

 private:
  explicit Connection(Endpoint endpoint, redisContext* context);
  RedisResult<void> log_in();
  // Commands already in the wire format, every one named `name` in errors.
  RedisResult<std::vector<Reply>> send(const Commands& commands, std::string_view name);
  template <class Name>
  RedisResult<std::vector<Reply>> read_replies(std::size_t count, Name name_of);
  Error connection_error(const std::string& doing) const;

  Endpoint endpoint_;
  redisContext* context_ = nullptr;
};

}  // namespace tendril::redis
