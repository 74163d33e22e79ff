// cli/tool_states.hpp — where the CLI's tool states go and come from.
//
// `--redis URL` wins; else PREFECT_REDIS_MESSAGING_*; else the default sink, a JSON-lines file
// at $XDG_STATE_HOME/tendril/tool-states.jsonl (~/.local/state/... when unset), which
// `tendril watch` reads too.
#pragma once

#include <expected>
#include <optional>
#include <string>

#include <tendril/redis/endpoint.hpp>
#include <tendril/state/publisher.hpp>

namespace tendril::cli {

struct StateDestination {
  std::string redis_url;     // --redis
  std::string state_file;    // --state-file; empty: the default
  bool every_state = false;  // --every-state: not only each run's latest state per flush
  bool none = false;         // --no-state: publish nothing
};

// The default sink's path: $XDG_STATE_HOME/tendril, else ~/.local/state/tendril, else a private
// /tmp/tendril-<uid> (made 0700, and refused unless it is a real directory of this user's that
// nobody else may enter). The directory is made if missing; the error says why it cannot be.
std::expected<std::string, std::string> default_state_file();

// Publisher options for the destination (only each run's latest state per flush unless
// every_state; nothing at all, to /dev/null, when none); an error names the bad URL. An explicit
// --redis is tried at once: a server that cannot be reached or refuses the login is an error
// now, not states lost later.
std::expected<state::PublisherOptions, std::string> publisher_options(const StateDestination& to);

// The endpoint to read from (`--redis`, then the environment); nullopt: read the state file.
std::expected<std::optional<redis::Endpoint>, std::string> read_endpoint(
    const StateDestination& from);

}  // namespace tendril::cli
