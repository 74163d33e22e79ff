#include "tendril/pipeline/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace tendril {
namespace detail {
namespace {

// The environment a worker process is started with.
constexpr const char* kHandlerVariable = "TENDRIL_PROCESS_WORKER";
constexpr const char* kMemoryVariable = "TENDRIL_PROCESS_MEMORY";
constexpr const char* kParentVariable = "TENDRIL_PROCESS_PARENT";
// ASan and TSan reserve terabytes of address space at start: a worker under RLIMIT_AS could
// not even start. Their builds refuse memory_limit, saying so.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif

constexpr int kRequestFd = 3;  // the worker reads items here
constexpr int kReplyFd = 4;    // and writes replies here

std::mutex& registry_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::map<std::string, ProcessEntry>& registry() {
  static std::map<std::string, ProcessEntry> handlers;
  return handlers;
}

// Whole-buffer I/O on a pipe, retried on EINTR; false when the other end is gone.
bool write_all(int fd, const void* data, std::size_t size) {
  const char* at = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, at, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}
bool read_all(int fd, void* data, std::size_t size) {
  char* at = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, at, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Waits up to `budget` for `fd` to be readable without sleeping: polls, yielding the core
// between looks. True when it became readable. A reply or a request that comes within
// microseconds is then taken with no sleep and no wake-up on either side of the pipe.
bool spin_until_readable(int fd, std::chrono::nanoseconds budget) {
  if (budget <= std::chrono::nanoseconds::zero()) return false;
  const auto until = std::chrono::steady_clock::now() + budget;
  do {
    pollfd ready{.fd = fd, .events = POLLIN, .revents = 0};
    if (::poll(&ready, 1, 0) > 0) return true;
    ::sched_yield();
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

// How long a worker looks for its next request before it blocks in read().
constexpr std::chrono::microseconds kServeSpin{50};

// A request: length (4 bytes) and payload. A reply: ok (1), error kind (1), length (4), bytes.
bool write_frame(int fd, std::string_view payload) {
  const std::uint32_t length = static_cast<std::uint32_t>(payload.size());
  return write_all(fd, &length, sizeof length) && write_all(fd, payload.data(), payload.size());
}

[[noreturn]] void serve(const std::string& name, ProcessEntry& entry) {
  WorkerState state(name, 0);
  std::string payload;
  for (;;) {
    std::uint32_t length = 0;
    spin_until_readable(kRequestFd, kServeSpin);
    if (!read_all(kRequestFd, &length, sizeof length)) std::_Exit(0);  // the parent is done
    payload.resize(length);
    if (!read_all(kRequestFd, payload.data(), length)) std::_Exit(0);
    ProcessReply reply;
    try {
      reply = entry(payload, state);
    } catch (const std::bad_alloc&) {
      reply = {false, "out of memory (std::bad_alloc): over the worker's memory_limit?",
               ErrorKind::handler};
    } catch (...) {
      const Error error = error_from(std::current_exception());
      reply = {false, error.message, error.kind};
    }
    const unsigned char head[2] = {static_cast<unsigned char>(reply.ok ? 1 : 0),
                                   static_cast<unsigned char>(reply.kind)};
    if (!write_all(kReplyFd, head, sizeof head) || !write_frame(kReplyFd, reply.data))
      std::_Exit(0);
  }
}

std::string signal_name(int number) {
  const char* abbreviation = ::sigabbrev_np(number);
  return abbreviation ? std::string("SIG") + abbreviation : "signal " + std::to_string(number);
}

}  // namespace

namespace {
std::mutex command_mutex;
std::vector<std::string> worker_command;  // guarded by command_mutex; empty: this program
}  // namespace

void set_process_worker_command(std::vector<std::string> command) {
  std::lock_guard lock(command_mutex);
  worker_command = std::move(command);
}

void register_process_handler(const std::string& name, ProcessEntry entry) {
  std::lock_guard lock(registry_mutex());
  if (!registry().emplace(name, std::move(entry)).second)
    throw std::logic_error("tendril: a process handler named '" + name +
                           "' is registered twice; each needs its own name");
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(const std::string& handler,
                                                          std::size_t memory_limit) {
  if (memory_limit > 0 && kSanitizerBuild)
    return std::unexpected(
        Error{ErrorKind::usage,
              "memory_limit cannot be applied in a build with AddressSanitizer or ThreadSanitizer "
              "(they reserve terabytes of address space); it works in normal builds"});
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0)
    return std::unexpected(Error{ErrorKind::stopped, std::string("cannot make a pipe for a worker "
                                                                 "process: ") +
                                                         std::strerror(errno)});
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    const int why = errno;
    ::close(to_child[0]);
    ::close(to_child[1]);
    return std::unexpected(
        Error{ErrorKind::stopped,
              std::string("cannot make a pipe for a worker process: ") + std::strerror(why)});
  }
  // Out of the way of fds 3 and 4: a pipe end that is already 3 or 4 would be overwritten by
  // the other's dup2, or keep its close-on-exec flag (dup2 onto itself does not clear it).
  for (int* fd : {&to_child[0], &to_child[1], &from_child[0], &from_child[1]}) {
    const int moved = ::fcntl(*fd, F_DUPFD_CLOEXEC, 10);
    if (moved >= 0) {
      ::close(*fd);
      *fd = moved;
    }
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], kRequestFd);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], kReplyFd);
  std::vector<std::string> variables;
  for (char** v = environ; *v; ++v)
    if (std::strncmp(*v, "TENDRIL_PROCESS_", 16) != 0) variables.emplace_back(*v);
  variables.push_back(std::string(kHandlerVariable) + "=" + handler);
  variables.push_back(std::string(kMemoryVariable) + "=" + std::to_string(memory_limit));
  variables.push_back(std::string(kParentVariable) + "=" + std::to_string(::getpid()));
  std::vector<char*> envp;
  for (auto& v : variables) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::vector<std::string> command;  // argv; the program is command[0], or this program again
  {
    std::lock_guard lock(command_mutex);
    command = worker_command;
  }
  const bool again = command.empty();
  if (again) command = {"tendril-process-worker"};
  const char* program = again ? "/proc/self/exe" : command[0].c_str();
  std::vector<char*> argv;
  for (std::string& argument : command) argv.push_back(argument.data());
  argv.push_back(nullptr);
  // The worker starts with no signal blocked, whatever the spawning thread blocks (a program's
  // threads often block SIGINT and SIGTERM to take them on one thread; the worker has its own).
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, program, &actions, &attributes, argv.data(), envp.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  ::close(to_child[0]);
  ::close(from_child[1]);
  if (spawned != 0) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    return std::unexpected(
        Error{ErrorKind::stopped,
              std::string("cannot start a worker process: ") + std::strerror(spawned)});
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, to_child[1], from_child[0]));
}

ChildProcess::~ChildProcess() {
  if (to_child_ >= 0) ::close(to_child_);
  if (from_child_ >= 0) ::close(from_child_);
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

Error ChildProcess::ended(const std::string& why) {
  int status = 0;
  std::string how = why;
  if (pid_ > 0) {
    died_by_itself_ = why.empty();
    if (died_by_itself_) {  // it went on its own: wait for it, and say how
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      if (WIFSIGNALED(status))
        how = "worker crashed: " + signal_name(WTERMSIG(status));
      else if (WIFEXITED(status))
        how = "worker exited with status " + std::to_string(WEXITSTATUS(status));
      else
        how = "worker ended";
    } else {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    pid_ = -1;
  }
  ::close(to_child_);
  ::close(from_child_);
  to_child_ = from_child_ = -1;
  return Error{.kind = ErrorKind::handler, .message = how};
}

Result<ProcessReply> ChildProcess::call(std::string_view payload, std::chrono::milliseconds timeout,
                                        std::stop_token stop) {
  if (pid_ <= 0) return std::unexpected(Error{ErrorKind::stopped, "the worker process is gone"});
  // A worker that died between items leaves a closed pipe: writing then fails (EPIPE, with
  // SIGPIPE blocked by the caller or ignored) and the reply read below sees the end.
  sigset_t pipe_signal, previous;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);
  const bool sent = write_frame(to_child_, payload);
  timespec none{0, 0};
  while (sigtimedwait(&pipe_signal, nullptr, &none) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (!sent) return std::unexpected(ended(""));
  const auto started = std::chrono::steady_clock::now();
  // A worker that answered its last item quickly likely answers this one so too: look for the
  // reply for twice that long (at most kReplySpin) before sleeping on it. A handler slower than
  // kReplySpin gets no spin at all.
  const bool replied = last_reply_ <= kReplySpin &&
                       spin_until_readable(from_child_, std::min(2 * last_reply_, kReplySpin));
  for (; !replied;) {
    pollfd ready{.fd = from_child_, .events = POLLIN, .revents = 0};
    const int n = ::poll(&ready, 1, 20);
    if (n > 0) break;
    if (n < 0 && errno != EINTR) return std::unexpected(ended("cannot wait for the worker"));
    if (stop.stop_requested()) {
      Error error = ended("cancelled");
      error.kind = ErrorKind::cancelled;
      return std::unexpected(std::move(error));
    }
    if (timeout.count() > 0 && std::chrono::steady_clock::now() - started >= timeout) {
      Error error = ended("timed out after " + std::to_string(timeout.count()) + " ms");
      return std::unexpected(std::move(error));
    }
  }
  last_reply_ = std::chrono::steady_clock::now() - started;
  unsigned char head[2];
  std::uint32_t length = 0;
  ProcessReply reply;
  if (!read_all(from_child_, head, sizeof head) || !read_all(from_child_, &length, sizeof length))
    return std::unexpected(ended(""));
  reply.data.resize(length);
  if (!read_all(from_child_, reply.data.data(), length)) return std::unexpected(ended(""));
  reply.ok = head[0] == 1;
  reply.kind = head[1] <= static_cast<unsigned char>(ErrorKind::refused)
                   ? static_cast<ErrorKind>(head[1])
                   : ErrorKind::handler;
  return reply;
}

}  // namespace detail

void serve_process_worker_if_asked(int, char**) {
  const char* name = std::getenv(detail::kHandlerVariable);
  if (!name) return;
  // Die with the parent, and if it is already gone, now.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const char* parent = std::getenv(detail::kParentVariable);
  if (parent && std::to_string(::getppid()) != parent) std::_Exit(0);
  if (const char* memory = std::getenv(detail::kMemoryVariable)) {
    const unsigned long long bytes = std::strtoull(memory, nullptr, 10);
    if (bytes > 0) {
      const rlimit limit{bytes, bytes};
      ::setrlimit(RLIMIT_AS, &limit);
    }
  }
  detail::ProcessEntry entry;
  {
    std::lock_guard lock(detail::registry_mutex());
    auto found = detail::registry().find(name);
    if (found == detail::registry().end()) {
      std::fprintf(stderr,
                   "tendril: this program has no process handler named '%s' (is it made by "
                   "process_handler() at namespace scope?)\n",
                   name);
      std::_Exit(127);
    }
    entry = found->second;
  }
  detail::serve(name, entry);
}

}  // namespace tendril
