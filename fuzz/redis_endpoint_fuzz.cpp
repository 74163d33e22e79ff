// Redis URL and environment parsing: any input is an Endpoint or an `invalid` error; describe()
// is made of the parts that are not secret; and no error shows the password. "Shows" is tested
// by difference: when the message contains the password, the same input with the password's
// letters and digits masked must give a message that still contains it (by chance, from the
// message's own words).
//
// Input: the first byte picks the mode. 0: the rest is a URL. Otherwise the rest is up to
// seven NUL-separated values for PREFECT_REDIS_MESSAGING_{URL,HOST,PORT,DB,USERNAME,PASSWORD,SSL}
// (an empty value unsets the variable).
#include <tendril/redis/endpoint.hpp>

#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

using tendril::Result;
using tendril::redis::Endpoint;

// `secret` with its letters and digits replaced by 'Z' (or 'Y' where it was a 'Z'), %XX escapes
// kept: the same to the parser, which only looks at the other characters, and different to a
// reader.
std::string masked(std::string_view secret) {
  std::string out(secret);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '%' && i + 2 < out.size() &&
        std::isxdigit(static_cast<unsigned char>(out[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(out[i + 2]))) {
      i += 2;
      continue;
    }
    if (std::isalnum(static_cast<unsigned char>(out[i]))) out[i] = out[i] == 'Z' ? 'Y' : 'Z';
  }
  return out;
}

template <class T>
std::string message_of(const Result<T>& result) {
  return result ? std::string() : result.error().message;
}

void check_endpoint(const Endpoint& e) {
  if (e.describe() != "redis://" + e.username + "@" + e.host + ":" + std::to_string(e.port) + "/" +
                          std::to_string(e.db))
    abort();
}

// The password part of a URL's user info as written, where the parser takes it: after the first
// ':' of what comes before the last '@'. nullopt when there is none.
std::optional<std::pair<std::size_t, std::size_t>> password_span(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::nullopt;
  const auto at = url.rfind('@');
  const auto colon = url.find(':', scheme + 3);
  if (at == std::string_view::npos || colon == std::string_view::npos || colon > at)
    return std::nullopt;
  return std::pair{colon + 1, at - colon - 1};
}

void fuzz_url(std::string_view url) {
  auto endpoint = Endpoint::parse_url(url);
  if (endpoint) {
    check_endpoint(*endpoint);
    return;
  }
  if (endpoint.error().kind != tendril::ErrorKind::invalid) abort();
  const auto span = password_span(url);
  if (!span || span->second == 0) return;
  const std::string_view secret = url.substr(span->first, span->second);
  const std::string& message = endpoint.error().message;
  if (message.find(secret) == std::string::npos) return;
  std::string other(url);
  other.replace(span->first, span->second, masked(secret));
  if (message_of(Endpoint::parse_url(other)).find(secret) == std::string::npos)
    abort();  // the message shows the password
}

constexpr const char* kNames[] = {
    "PREFECT_REDIS_MESSAGING_URL",      "PREFECT_REDIS_MESSAGING_HOST",
    "PREFECT_REDIS_MESSAGING_PORT",     "PREFECT_REDIS_MESSAGING_DB",
    "PREFECT_REDIS_MESSAGING_USERNAME", "PREFECT_REDIS_MESSAGING_PASSWORD",
    "PREFECT_REDIS_MESSAGING_SSL"};

Result<std::optional<Endpoint>> from(const std::string (&values)[7]) {
  for (std::size_t i = 0; i < 7; ++i) {
    if (values[i].empty())
      unsetenv(kNames[i]);
    else
      setenv(kNames[i], values[i].c_str(), 1);
  }
  return Endpoint::from_environment();
}

void fuzz_environment(std::string_view input) {
  std::string values[7];
  std::size_t start = 0;
  for (std::size_t i = 0; i < 7 && start <= input.size(); ++i) {
    const auto end = std::min(input.find('\0', start), input.size());
    values[i] = std::string(input.substr(start, end - start));
    start = end + 1;
  }
  auto endpoint = from(values);
  if (endpoint) {
    if (*endpoint) check_endpoint(**endpoint);
    return;
  }
  if (endpoint.error().kind != tendril::ErrorKind::invalid) abort();
  const std::string message = endpoint.error().message;
  // The PASSWORD variable is used as it is: the message must not depend on it at all.
  std::string others[7];
  std::copy(std::begin(values), std::end(values), std::begin(others));
  others[5] = masked(values[5]);
  if (message_of(from(others)) != message) abort();
  // A password inside the URL variable is treated as parse_url treats it.
  fuzz_url(values[0]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] == 0) {
    if (input.find('\0') == std::string_view::npos) fuzz_url(input);  // no URL holds a NUL
  } else {
    fuzz_environment(input);
  }
  return 0;
}
