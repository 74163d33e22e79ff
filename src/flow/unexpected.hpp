// src/flow/unexpected.hpp — the flow runtime's one way to say "this failed, and why". Internal.
#pragma once

#include <expected>
#include <string>
#include <utility>

#include "tendril/core/error.hpp"

namespace tendril::detail {

inline std::unexpected<Error> unexpected_error(ErrorKind kind, std::string message) {
  return std::unexpected(Error{.kind = kind, .message = std::move(message)});
}

}  // namespace tendril::detail
