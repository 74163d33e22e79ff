// tendril/redis/endpoint.hpp — where a Redis server is, and how to log in.
//
// Plain values. Parsing never throws: a bad URL or environment value is an Error of kind
// `invalid` that names the variable or the part that is wrong. Thread-safe to read from several
// threads.
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "tendril/core/error.hpp"

namespace tendril::redis {

struct Endpoint {
  std::string host = "localhost";
  int port = 6379;
  int db = 0;
  std::string username = "default";
  std::string password = {};                // empty: no AUTH
  std::chrono::milliseconds timeout{2000};  // connect and command timeout

  // redis://[user[:password]@]host[:port][/db]. rediss:// (TLS) is an error: hiredis 0.14 has
  // no TLS.
  static Result<Endpoint> parse_url(std::string_view url);

  // From PREFECT_REDIS_MESSAGING_{URL,HOST,PORT,DB,USERNAME,PASSWORD,SSL} (URL wins over the
  // parts). nullopt when neither URL nor HOST is set: no Redis is configured.
  static Result<std::optional<Endpoint>> from_environment();

  // redis://user@host:port/db, without the password: safe for logs.
  std::string describe() const;

  bool operator==(const Endpoint&) const = default;
};

}  // namespace tendril::redis
