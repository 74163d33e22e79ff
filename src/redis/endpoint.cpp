#include "tendril/redis/endpoint.hpp"

#include <charconv>
#include <cstdlib>

namespace tendril::redis {
namespace {

constexpr std::string_view kPrefix = "PREFECT_REDIS_MESSAGING_";

std::optional<std::string> env(std::string_view name) {
  const std::string variable = std::string(kPrefix) + std::string(name);
  const char* value = std::getenv(variable.c_str());
  if (!value || !*value) return std::nullopt;
  return std::string(value);
}

// A whole decimal number in [low, high], or nullopt.
std::optional<int> number(std::string_view text, int low, int high) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < low || value > high)
    return std::nullopt;
  return value;
}

std::unexpected<Error> bad(std::string message) {
  return std::unexpected(Error{.kind = ErrorKind::invalid, .message = std::move(message)});
}

bool truthy(std::string_view value) {
  return value == "1" || value == "true" || value == "True" || value == "TRUE" || value == "yes";
}

}  // namespace

Result<Endpoint> Endpoint::parse_url(std::string_view url) {
  Endpoint endpoint;
  if (url.starts_with("rediss://"))
    return bad("redis URL '" + std::string(url) +
               "' asks for TLS (rediss://), which this build's hiredis 0.14 cannot do");
  if (!url.starts_with("redis://"))
    return bad("redis URL '" + std::string(url) + "' must start with redis://");
  std::string_view rest = url.substr(8);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (const auto colon = credentials.find(':'); colon != std::string_view::npos) {
      if (colon > 0) endpoint.username = std::string(credentials.substr(0, colon));
      endpoint.password = std::string(credentials.substr(colon + 1));
    } else if (!credentials.empty()) {
      endpoint.username = std::string(credentials);
    }
  }
  std::string_view host_port = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    host_port = rest.substr(0, slash);
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      const auto parsed = number(db, 0, 1 << 20);
      if (!parsed)
        return bad("redis URL '" + std::string(url) + "': database '" + std::string(db) +
                   "' is not a number");
      endpoint.db = *parsed;
    }
  }
  if (const auto colon = host_port.rfind(':'); colon != std::string_view::npos) {
    const std::string_view port = host_port.substr(colon + 1);
    const auto parsed = number(port, 1, 65535);
    if (!parsed)
      return bad("redis URL '" + std::string(url) + "': port '" + std::string(port) +
                 "' is not a port number (1-65535)");
    endpoint.port = *parsed;
    host_port = host_port.substr(0, colon);
  }
  if (host_port.empty()) return bad("redis URL '" + std::string(url) + "' has no host");
  endpoint.host = std::string(host_port);
  return endpoint;
}

Result<std::optional<Endpoint>> Endpoint::from_environment() {
  if (const auto ssl = env("SSL"); ssl && truthy(*ssl))
    return bad(std::string(kPrefix) + "SSL=" + *ssl +
               ": TLS is not supported by this build (hiredis 0.14 has none)");
  if (const auto url = env("URL")) {
    auto parsed = parse_url(*url);
    if (!parsed) return bad(std::string(kPrefix) + "URL: " + parsed.error().message);
    return std::optional<Endpoint>(std::move(*parsed));
  }
  const auto host = env("HOST");
  if (!host) return std::optional<Endpoint>();
  Endpoint endpoint;
  endpoint.host = *host;
  if (const auto port = env("PORT")) {
    const auto parsed = number(*port, 1, 65535);
    if (!parsed)
      return bad(std::string(kPrefix) + "PORT=" + *port + " is not a port number (1-65535)");
    endpoint.port = *parsed;
  }
  if (const auto db = env("DB")) {
    const auto parsed = number(*db, 0, 1 << 20);
    if (!parsed) return bad(std::string(kPrefix) + "DB=" + *db + " is not a database number");
    endpoint.db = *parsed;
  }
  if (const auto username = env("USERNAME")) endpoint.username = *username;
  if (const auto password = env("PASSWORD")) endpoint.password = *password;
  return std::optional<Endpoint>(std::move(endpoint));
}

std::string Endpoint::describe() const {
  return "redis://" + username + "@" + host + ":" + std::to_string(port) + "/" + std::to_string(db);
}

}  // namespace tendril::redis
