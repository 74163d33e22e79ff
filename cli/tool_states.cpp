#include "tool_states.hpp"

#include <cstdlib>
#include <filesystem>

namespace tendril::cli {

std::string default_state_file() {
  std::filesystem::path base;
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    base = std::filesystem::path(home) / ".local" / "state";
  } else {
    base = std::filesystem::temp_directory_path();
  }
  const auto dir = base / "tendril";
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  return (dir / "tool-states.jsonl").string();
}

std::expected<std::optional<redis::Endpoint>, std::string> read_endpoint(
    const StateDestination& from) {
  if (!from.redis_url.empty()) {
    auto endpoint = redis::Endpoint::parse_url(from.redis_url);
    if (!endpoint) return std::unexpected("--redis: " + endpoint.error().message);
    return std::optional<redis::Endpoint>(*endpoint);
  }
  if (!from.state_file.empty()) return std::optional<redis::Endpoint>();
  auto configured = redis::Endpoint::from_environment();
  if (!configured) return std::unexpected(configured.error().message);
  return *configured;
}

std::expected<state::PublisherOptions, std::string> publisher_options(const StateDestination& to) {
  state::PublisherOptions options;
  options.flush_interval = std::chrono::milliseconds(200);
  if (!to.redis_url.empty()) {
    auto endpoint = redis::Endpoint::parse_url(to.redis_url);
    if (!endpoint) return std::unexpected("--redis: " + endpoint.error().message);
    options.endpoint = *endpoint;
  } else if (!to.state_file.empty()) {
    options.use_environment = false;
  }
  options.sink_path = to.state_file.empty() ? default_state_file() : to.state_file;
  return options;
}

}  // namespace tendril::cli
