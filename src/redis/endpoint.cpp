#include "tendril/redis/endpoint.hpp"

#include <cctype>
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

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The URL as it may be shown: any password replaced by "***".
std::string redacted(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const std::size_t start = scheme + 3;
  const auto at = url.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  const auto colon = url.find(':', start);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

// %XX escapes decoded (as in user names and passwords with ':' '@' or '/'); nullopt when an
// escape is malformed.
std::optional<std::string> percent_decoded(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size()) return std::nullopt;
    const auto [end, error] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (error != std::errc() || end != text.data() + i + 3) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

}  // namespace

Result<Endpoint> Endpoint::parse_url(std::string_view url) {
  Endpoint endpoint;
  const std::string shown = "redis URL '" + redacted(url) + "'";
  if (url.starts_with("rediss://"))
    return bad(shown + " asks for TLS (rediss://), which this build's hiredis 0.14 cannot do");
  if (!url.starts_with("redis://")) return bad(shown + " must start with redis://");
  std::string_view rest = url.substr(8);
  if (const auto query = rest.find('?'); query != std::string_view::npos) {
    // A '?' before the credentials' '@' is in them: quoting the "query" would show a secret.
    if (const auto at = rest.rfind('@'); at != std::string_view::npos && at > query)
      return bad(shown + ": a '?' in the user name or password must be written %3F");
    return bad(shown + ": query parameters ('" + std::string(rest.substr(query)).substr(0, 60) +
               "') are not supported; give the database as /N");
  }
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    std::string_view user = credentials;
    std::optional<std::string_view> password;
    if (const auto colon = credentials.find(':'); colon != std::string_view::npos) {
      user = credentials.substr(0, colon);
      password = credentials.substr(colon + 1);
    }
    if (!user.empty()) {
      auto decoded = percent_decoded(user);
      if (!decoded) return bad(shown + ": the user name has a malformed %-escape");
      endpoint.username = std::move(*decoded);
    }
    if (password) {
      auto decoded = percent_decoded(*password);
      if (!decoded) return bad(shown + ": the password has a malformed %-escape");
      endpoint.password = std::move(*decoded);
    }
  }
  std::string_view host_port = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    host_port = rest.substr(0, slash);
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      const auto parsed = number(db, 0, 1 << 20);
      if (!parsed) return bad(shown + ": database '" + std::string(db) + "' is not a number");
      endpoint.db = *parsed;
    }
  }
  std::string_view host = host_port;
  std::string_view port;
  if (host_port.starts_with('[')) {  // an IPv6 address: [::1]:6379
    const auto close = host_port.find(']');
    if (close == std::string_view::npos) return bad(shown + ": an IPv6 host lacks its ']'");
    host = host_port.substr(1, close - 1);
    const std::string_view after = host_port.substr(close + 1);
    if (!after.empty() && after.front() != ':')
      return bad(shown + ": expected ':port' after the IPv6 host, not '" + std::string(after) +
                 "'");
    if (!after.empty()) port = after.substr(1);
  } else if (const auto colon = host_port.rfind(':'); colon != std::string_view::npos) {
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
    if (port.empty()) return bad(shown + ": the port after ':' is empty");
  }
  if (!port.empty()) {
    const auto parsed = number(port, 1, 65535);
    if (!parsed)
      return bad(shown + ": port '" + std::string(port) + "' is not a port number (1-65535)");
    endpoint.port = *parsed;
  }
  if (host.empty()) return bad(shown + " has no host");
  endpoint.host = std::string(host);
  return endpoint;
}

Result<std::optional<Endpoint>> Endpoint::from_environment() {
  if (const auto ssl = env("SSL")) {
    const std::string value = lowercase(*ssl);
    for (const char* yes : {"1", "true", "t", "yes", "y", "on"})
      if (value == yes)
        return bad(std::string(kPrefix) + "SSL=" + *ssl +
                   ": TLS is not supported by this build (hiredis 0.14 has none)");
    bool no = false;
    for (const char* off : {"0", "false", "f", "no", "n", "off"}) no |= value == off;
    if (!no)
      return bad(std::string(kPrefix) + "SSL=" + *ssl +
                 " is neither true (1, true, yes, on) nor false (0, false, no, off)");
  }
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
