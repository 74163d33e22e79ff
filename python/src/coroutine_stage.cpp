// python/src/coroutine_stage.cpp — a stage of `async def` handlers on the engine's coroutine
// stages.
//
// Each attempt is a coroutine frame on the run's Asio loop (the engine's AsyncStageNode): it
// calls the handler (with the GIL, on the loop thread), hands the Python coroutine it returns to
// the run's asyncio loop (StageCalls::on_schedule), and waits on a timer that the future's done
// callback cancels. No thread waits for an item, so `num_workers` items are truly in flight, as
// with the original's asyncio workers.
//
// Lifetimes: the done callback may fire on the asyncio loop's thread at any time, even after
// the run ended. It reaches the frame only through a Pending, under its mutex: the frame arms it
// while it waits and disarms it when it ends (or is destroyed by a cancelled run). A frame
// destroyed before its future finished cancels that future, so no handler outlives its run.
#include <pybind11/pybind11.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

#include <tendril/pipeline/detail/async_stage.hpp>

#include "object_ref.hpp"
#include "stage_calls.hpp"

namespace tendril::python {
namespace py = pybind11;
namespace {

// Where a scheduled future's completion meets the frame waiting for it.
struct Pending {
  std::mutex mutex;
  bool done = false;                      // the future finished
  asio::steady_timer* waiting = nullptr;  // the frame's timer while it waits for that
};

// The done callback: marks the Pending and, when a frame waits, wakes it on its own loop.
void complete(const std::shared_ptr<Pending>& pending) {
  std::lock_guard lock(pending->mutex);
  pending->done = true;
  if (!pending->waiting) return;
  asio::post(pending->waiting->get_executor(), [pending] {
    std::lock_guard relock(pending->mutex);
    if (pending->waiting) pending->waiting->cancel();
  });
}

// Ends the frame's interest in its future: from now on the callback only marks the Pending. A
// future not finished by then (the run was cancelled) is cancelled.
class Disarm {
 public:
  Disarm(std::shared_ptr<Pending> pending, Ref future)
      : pending_(std::move(pending)), future_(std::move(future)) {}
  Disarm(const Disarm&) = delete;
  Disarm& operator=(const Disarm&) = delete;
  ~Disarm() {
    bool done;
    {
      std::lock_guard lock(pending_->mutex);
      pending_->waiting = nullptr;
      done = pending_->done;
    }
    if (done || _Py_IsFinalizing()) return;
    // Not EngineGil: a frame the run's end destroys goes on the thread that ends the run, a
    // Python thread whose own thread state must be used (EngineGil keeps one of its own per
    // thread, for engine threads, and would release it after Python deleted the thread's).
    const PyGILState_STATE gil = PyGILState_Ensure();
    PyObject* cancelled = PyObject_CallMethod(future_.get(), "cancel", nullptr);
    if (cancelled)
      Py_DECREF(cancelled);
    else
      PyErr_Clear();
    PyGILState_Release(gil);
  }

 private:
  std::shared_ptr<Pending> pending_;
  Ref future_;
};

// The awaitable's result once its future is done: the output, or why the attempt failed.
Result<Ref> future_result(const StageCalls& calls, const Ref& future) {
  PyObject* out = PyObject_CallMethod(future.get(), "result", nullptr);
  if (!out) return std::unexpected(handler_failure(calls));
  return settle(calls, out);
}

// Calls the handler; an awaitable it returns is scheduled on the asyncio loop, and its future
// given back with a done callback that completes `pending`. With the GIL.
Result<Ref> call_handler(const StageCalls& calls, std::size_t worker_index, const Ref& item,
                         WorkerState& worker, const std::shared_ptr<Pending>& pending,
                         Ref& future) {
  release_pending();
  if (calls.attempts < 1)
    return std::unexpected(
        Error{.kind = ErrorKind::handler, .message = "retries < 1: no attempt is made"});
  PyObject* state = python_state(worker);
  if (!state) return std::unexpected(take_python_error());
  PyObject* function = calls.functions[worker_index % calls.functions.size()].get();
  PyObject* args[] = {item.get(), state};
  PyObject* out = PyObject_Vectorcall(function, args, 2, nullptr);
  if (!out) return std::unexpected(handler_failure(calls));
  const PyAsyncMethods* async = Py_TYPE(out)->tp_as_async;
  if (!async || !async->am_await) return settle(calls, out);  // a plain value after all
  PyObject* scheduled = PyObject_CallOneArg(calls.on_schedule.get(), out);
  Py_DECREF(out);
  if (!scheduled) return std::unexpected(handler_failure(calls));
  future = Ref::steal(scheduled);
  try {
    py::cpp_function on_done([pending](const py::handle&) { complete(pending); });
    py::handle(future.get()).attr("add_done_callback")(on_done);
  } catch (py::error_already_set& error) {
    error.restore();
    return std::unexpected(take_python_error());
  }
  return Ref();  // scheduled: the result comes with the future
}

// One attempt, as a frame on the run's event loop; reports to `done` unless the run's end
// destroys the frame first.
asio::awaitable<void> attempt(std::shared_ptr<const StageCalls> calls, detail::Carried<Ref> input,
                              WorkerState& worker, detail::AsyncDone<Ref>* done,
                              std::uint32_t index) {
  auto pending = std::make_shared<Pending>();
  Ref future;
  Result<Ref> out = [&] {
    EngineGil gil;
    return call_handler(*calls, index, *input, worker, pending, future);
  }();
  if (out && future) {  // scheduled: wait for it, holding neither the GIL nor a thread
    asio::steady_timer timer(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
    Disarm disarm(pending, future);  // before `timer` goes, on every way out
    for (;;) {
      {
        std::lock_guard lock(pending->mutex);
        if (pending->done) break;
        pending->waiting = &timer;
      }
      asio::error_code cancelled;  // how complete() wakes it
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, cancelled));
    }
    EngineGil gil;
    out = future_result(*calls, future);
  }
  if (!out) {
    done->finished(index, detail::carried_error(std::move(out.error())));
    co_return;
  }
  if (is_set(calls->on_output)) {
    EngineGil gil;
    notify(calls->on_output, out->get());
  }
  done->finished(index, detail::Carried<Ref>(std::move(*out)));
}

}  // namespace

detail::AsyncNodeFactory<Ref, Ref> coroutine_stage(std::shared_ptr<const StageCalls> calls) {
  detail::AsyncHandler<Ref, Ref> handler =
      [calls](asio::io_context& io, detail::Carried<Ref>&& input, WorkerState& worker,
              detail::AsyncDone<Ref>* done, std::uint32_t index) {
        asio::co_spawn(io, attempt(calls, std::move(input), worker, done, index), asio::detached);
      };
  return [handler](const PoolOptions<Ref, Ref>& options, std::string name,
                   detail::InletBase& downstream, detail::RunContext& context) {
    auto node = std::make_unique<detail::AsyncStageNode<Ref, Ref>>(
        options, handler, false, std::move(name), static_cast<detail::Inlet<Ref>&>(downstream),
        context);
    detail::InletBase* inlet = static_cast<detail::Inlet<Ref>*>(node.get());
    return detail::BuiltNode{std::move(node), inlet};
  };
}

}  // namespace tendril::python
