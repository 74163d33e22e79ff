// tendril/pipeline/process.hpp — process workers: the seed's multi_proc.
//
//   // at namespace scope, so that a worker process has it too:
//   const auto parse = tendril::process_handler("parse", [](std::string line) { return f(line); });
//
//   int main(int argc, char** argv) {
//     tendril::serve_process_worker_if_asked(argc, argv);  // first thing: see below
//     auto stage = tendril::work_pool({.num_workers = 4, .retries = 2, .multi_proc = true,
//                                      .timeout = std::chrono::seconds(10)}, parse);
//     ...
//   }
//
// With multi_proc, each worker of the stage is a child process that runs the handler on the
// items it is sent (encoded with Codec, JsonCodec by default) and keeps its own WorkerState
// across them. What processes give that threads cannot:
//   - a handler that crashes (SIGSEGV, abort, _exit) costs one attempt and one worker: the
//     attempt fails with "worker crashed: SIGSEGV" (retried per `retries`, then the stage's error
//     policy), and the next item gets a fresh worker;
//   - `timeout`: an attempt that runs longer is killed and fails with "timed out after N ms";
//   - `memory_limit`: the worker's address space is capped (RLIMIT_AS); going over fails the
//     attempt (std::bad_alloc in the worker), not the run;
//   - cancel() ends the run at once even when a handler ignores every stop request: the workers
//     are killed.
// No worker outlives its run (each is killed and reaped when its stage's run ends) or its
// parent (PR_SET_PDEATHSIG).
//
// Why by name, and why serve_process_worker_if_asked() first: a multi-threaded program must not
// fork() and then run arbitrary code in the child (another thread may have held a lock, the
// allocator's among them). So a worker is this same program started afresh (posix_spawn of
// /proc/self/exe) and told, through its environment, which handler to serve.
// serve_process_worker_if_asked() sees that and serves instead of returning; the handler is
// found by the name given to process_handler(), which ran during static initialisation in the
// new process as in this one. Call it at the top of main, before anything that a worker should
// not do (parsing arguments, opening files, starting threads).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tendril/core/codec.hpp"
#include "tendril/core/error.hpp"
#include "tendril/core/worker_state.hpp"
#include "tendril/pipeline/detail/handler_traits.hpp"
#include "tendril/pipeline/detail/stage_worker.hpp"
#include "tendril/pipeline/stage.hpp"

namespace tendril {

// When this process was started as a process worker, serves until its parent closes the pipe
// or dies, and exits; otherwise returns at once.
void serve_process_worker_if_asked(int argc, char** argv);

namespace detail {

// What one request to a worker process gave.
struct ProcessReply {
  bool ok = false;
  std::string data;  // the encoded output, or the error's message
  ErrorKind kind = ErrorKind::handler;
};
using ProcessEntry = std::function<ProcessReply(std::string_view payload, WorkerState&)>;

// Registers `name` (once per process: a second registration of the name is a std::logic_error).
void register_process_handler(const std::string& name, ProcessEntry entry);

// How worker processes are started: `command` (an absolute program path, then its arguments)
// instead of this program again. For a host whose program is not the one that registered the
// handlers — an interpreter that loads them from a module, whose `command` makes the worker
// call serve_process_worker_if_asked() first. Set it before any multi_proc run; thread-safe.
void set_process_worker_command(std::vector<std::string> command);

// One worker process, as the parent sees it. Not thread-safe: one stage worker owns it.
class ChildProcess {
 public:
  // Starts the program again as a worker for `handler`, with `memory_limit` bytes (0: no limit).
  static Result<std::unique_ptr<ChildProcess>> spawn(const std::string& handler,
                                                     std::size_t memory_limit);
  ~ChildProcess();  // kills and reaps the worker
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Sends one item and waits for its reply. An Error when the worker died ("worker crashed:
  // SIGSEGV", "worker exited with status 3"), took longer than `timeout` (0: no limit; it is
  // killed), or `stop` was requested (killed; kind cancelled). After an error the worker is gone.
  Result<ProcessReply> call(std::string_view payload, std::chrono::milliseconds timeout,
                            std::stop_token stop);
  int pid() const noexcept { return pid_; }
  // After call() failed: whether the worker ended by itself (a crash, an exit), not killed
  // here for its timeout or a cancel.
  bool died_by_itself() const noexcept { return died_by_itself_; }

 private:
  ChildProcess(int pid, int to_child, int from_child)
      : pid_(pid), to_child_(to_child), from_child_(from_child) {}
  Error ended(const std::string& why);  // kills, reaps, and says how the worker ended
  // The longest a reply is looked for without sleeping (see call()).
  static constexpr std::chrono::nanoseconds kReplySpin = std::chrono::microseconds(100);
  int pid_;
  int to_child_, from_child_;
  bool died_by_itself_ = false;
  std::chrono::nanoseconds last_reply_{0};  // how long the last reply took
};

}  // namespace detail

namespace detail {

// Instantiated for a process handler's item and result types: when the codec cannot carry one,
// compilation fails here, and the compiler's "in instantiation of" line names the type.
template <template <class> class Codec, class T>
struct CrossesAProcessBoundary {
  static_assert(
      CodecFor<Codec, T>,
      "a process handler's item or result type cannot cross a process boundary with "
      "this codec (the compiler names it: T in CrossesAProcessBoundary<Codec, T>): give it "
      "to_json/from_json (JsonCodec), make it trivially copyable (BinaryCodec), or pass "
      "a codec of your own");
  static constexpr bool value = true;
};

}  // namespace detail

// A handler a worker process can find: `fn` (a lambda or function object taking an item, and
// optionally the worker's WorkerState&) under `name`, its items and results crossing with Codec.
// Make it at namespace scope (a `const auto`), so that it is registered in every process.
template <class F, template <class> class Codec>
struct ProcessHandler : F {
  using tendril_process_handler = void;
  ProcessHandler(std::string n, F f) : F(std::move(f)), name(std::move(n)) {}
  std::string name;
};

template <template <class> class Codec = JsonCodec, class F>
ProcessHandler<F, Codec> process_handler(std::string name, F fn) {
  using traits = detail::handler_traits<F>;
  using In = typename traits::input;
  using Out = typename traits::output;
  static_assert(std::is_class_v<F>, "process_handler takes a lambda or a function object");
  static_assert(!traits::is_async, "process workers run plain handlers, not coroutines");
  static_assert(!traits::accepts_errors, "a process handler takes the item itself");
  static_assert(detail::CrossesAProcessBoundary<Codec, In>::value &&
                detail::CrossesAProcessBoundary<Codec, Out>::value);
  detail::register_process_handler(
      name,
      [erased = detail::erase_handler(fn)](std::string_view payload,
                                           WorkerState& state) mutable -> detail::ProcessReply {
        auto item = Codec<In>::decode(payload);
        if (!item) return {false, item.error().message, ErrorKind::invalid};
        auto out = detail::call_handler(erased, detail::Carried<In>(std::move(*item)), state);
        if (!out) return {false, out.error()->message, out.error()->kind};
        return {true, Codec<Out>::encode(*out), ErrorKind::handler};
      });
  return ProcessHandler<F, Codec>(std::move(name), std::move(fn));
}

namespace detail {

template <class F>
struct process_parts;
template <class G, template <class> class C>
struct process_parts<ProcessHandler<G, C>> {
  template <class T>
  using codec = C<T>;
};

// The handler a multi_proc stage's workers run: each worker keeps a worker process in its
// WorkerState, made on its first item and again after one ended.
template <class In, class Out, class F>
ErasedHandler<In, Out> process_proxy(const F& handler, const PoolOptions<In, Out>& options) {
  using InCodec = typename process_parts<F>::template codec<In>;
  using OutCodec = typename process_parts<F>::template codec<Out>;
  const std::string name = handler.name;
  const auto timeout = options.timeout;
  const std::size_t memory_limit = options.memory_limit;
  return [name, timeout, memory_limit](Carried<In>&& input, WorkerState& state) -> Carried<Out> {
    using Slot = std::unique_ptr<ChildProcess>;
    Slot& child = state.get_or_create("tendril.process", [] { return Slot(); });
    ProcessCounters& counters =
        state.get_or_create(kProcessCountersKey, [] { return ProcessCounters{}; });
    if (!child) {
      auto spawned = ChildProcess::spawn(name, memory_limit);
      if (!spawned) return carried_error(std::move(spawned.error()));
      child = std::move(*spawned);
      counters.restarts += counters.started++ > 0;
    }
    auto reply = child->call(InCodec::encode(*input), timeout, state.stop_token());
    if (!reply) {
      counters.crashes += child->died_by_itself();
      child.reset();  // gone: the next item starts a fresh worker
      return carried_error(std::move(reply.error()));
    }
    if (!reply->ok) return carried_error(Error{.kind = reply->kind, .message = reply->data});
    auto out = OutCodec::decode(reply->data);
    if (!out) return carried_error(std::move(out.error()));
    return Carried<Out>(std::move(*out));
  };
}

}  // namespace detail
}  // namespace tendril
