#include "tool_states.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <tendril/redis/connection.hpp>

namespace tendril::cli {

namespace {

// A directory in the shared /tmp that only this user can use: made 0700 if absent, refused when
// someone planted a link, a file or a directory of theirs there.
std::expected<std::filesystem::path, std::string> private_temp_dir() {
  std::error_code error;
  const auto temp = std::filesystem::temp_directory_path(error);
  if (error) return std::unexpected("no temporary directory (TMPDIR): " + error.message());
  const auto dir = temp / ("tendril-" + std::to_string(::getuid()));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return std::unexpected("cannot make " + dir.string() + ": " + std::strerror(errno));
  struct stat info {};
  if (::lstat(dir.c_str(), &info) != 0)
    return std::unexpected("cannot inspect " + dir.string() + ": " + std::strerror(errno));
  if (S_ISLNK(info.st_mode) || !S_ISDIR(info.st_mode) || info.st_uid != ::getuid() ||
      (info.st_mode & 077) != 0)
    return std::unexpected(dir.string() +
                           " is not a private directory of this user's (a link, another "
                           "owner, or open to others); refusing it for the state file");
  return dir;
}

}  // namespace

std::expected<std::string, std::string> default_state_file() {
  std::filesystem::path dir;
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) {
    dir = std::filesystem::path(xdg) / "tendril";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    dir = std::filesystem::path(home) / ".local" / "state" / "tendril";
  } else {
    auto temp = private_temp_dir();
    if (!temp) return std::unexpected(temp.error());
    dir = *temp;
  }
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return std::unexpected("cannot make " + dir.string() + ": " + error.message());
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
  options.latest_only = !to.every_state;
  // Latest-only, a flush every flush_interval is all a progress view needs: not one every 20
  // states (the default batch_size), which would send a state per 20 files.
  if (options.latest_only) options.batch_size = 10'000;
  if (to.none) {
    options.use_environment = false;
    options.sink_path = "/dev/null";
    return options;
  }
  if (!to.redis_url.empty()) {
    auto endpoint = redis::Endpoint::parse_url(to.redis_url);
    if (!endpoint) return std::unexpected("--redis: " + endpoint.error().message);
    auto probe = redis::Connection::open(*endpoint);  // connects and logs in, or says why not
    if (!probe) return std::unexpected("--redis: " + probe.error().message);
    options.endpoint = *endpoint;
  } else if (!to.state_file.empty()) {
    options.use_environment = false;
  }
  if (to.state_file.empty()) {
    auto path = default_state_file();
    if (!path) return std::unexpected("the default state file: " + path.error());
    options.sink_path = *path;
  } else {
    options.sink_path = to.state_file;
  }
  return options;
}

}  // namespace tendril::cli
