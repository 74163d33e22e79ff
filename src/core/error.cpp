#include "tendril/core/error.hpp"

namespace tendril {

const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::handler:
      return "handler";
    case ErrorKind::source:
      return "source";
    case ErrorKind::cancelled:
      return "cancelled";
    case ErrorKind::kill_switch:
      return "kill_switch";
    case ErrorKind::usage:
      return "usage";
    case ErrorKind::invalid:
      return "invalid";
    case ErrorKind::not_found:
      return "not_found";
    case ErrorKind::queue_full:
      return "queue_full";
    case ErrorKind::stopped:
      return "stopped";
    case ErrorKind::connection:
      return "connection";
    case ErrorKind::refused:
      return "refused";
  }
  return "unknown";
}

std::string Error::describe() const {
  std::string out;
  switch (kind) {
    case ErrorKind::handler:
      out = !stage.empty()     ? "stage '" + stage + "' failed"
            : !routine.empty() ? "routine '" + routine + "' failed"
                               : "handler failed";
      if (attempts > 1) out += " after " + std::to_string(attempts) + " attempts";
      break;
    case ErrorKind::source:
      out = "source failed";
      break;
    case ErrorKind::cancelled:
      out = "cancelled";
      break;
    case ErrorKind::kill_switch:
      out = !stage.empty()     ? "kill switch in stage '" + stage + "'"
            : !routine.empty() ? "kill switch in routine '" + routine + "'"
                               : "kill switch";
      break;
    case ErrorKind::usage:
      out = "usage error";
      break;
    case ErrorKind::invalid:
    case ErrorKind::not_found:
    case ErrorKind::queue_full:
    case ErrorKind::stopped:
    case ErrorKind::connection:
    case ErrorKind::refused:
      return message.empty() ? to_string(kind) : message;  // the message says it all
  }
  if (!message.empty()) out += ": " + message;
  return out;
}

bool Error::retryable() const noexcept {
  switch (kind) {
    case ErrorKind::handler:
    case ErrorKind::connection:
    case ErrorKind::queue_full:
      return true;
    default:
      return false;
  }
}

UsageError::UsageError(std::string message)
    : std::invalid_argument(message),
      error_{.kind = ErrorKind::usage, .message = std::move(message)} {}

}  // namespace tendril

namespace tendril::detail {

Error error_from(std::exception_ptr exception) {
  try {
    std::rethrow_exception(exception);
  } catch (const KillSwitch& stop) {
    return Error{.kind = ErrorKind::kill_switch, .message = stop.what()};
  } catch (const std::exception& e) {
    return Error{.kind = ErrorKind::handler, .message = e.what()};
  } catch (...) {
    return Error{.kind = ErrorKind::handler, .message = "unknown exception"};
  }
}

}  // namespace tendril::detail
