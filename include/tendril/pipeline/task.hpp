// tendril/pipeline/task.hpp — coroutine handlers, for I/O-bound stages.
//
//   auto fetch = tendril::work_pool({.num_workers = 100},
//       [](Url url, tendril::WorkerState& state) -> tendril::Task<Page> {
//         co_return co_await get(url);          // any Asio awaitable operation
//       });
//
// A handler returning Task<Out> (asio::awaitable<Out>) runs on the run's event loop (Asio's
// io_context); `num_workers` bounds how many items are in flight. Await Asio operations with
// asio::use_awaitable; they are cancelled when the run is. Sync and coroutine stages mix
// freely in one pipeline.
#pragma once

#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>

#include "tendril/pipeline/detail/async_stage.hpp"
#include "tendril/pipeline/detail/sleepers.hpp"
#include "tendril/pipeline/pipeline.hpp"

namespace tendril {

template <class T>
using Task = asio::awaitable<T>;

// Suspends the calling coroutine for `duration` (counted from the co_await) on its executor.
// Cancelling the run destroys the sleeping coroutine; a cancellation emitted on the
// coroutine's cancellation slot (asio's awaitable operators, a timeout) ends the sleep at once
// with asio::system_error(operation_aborted). All the sleeps on one io_context share one timer
// (detail/sleepers.hpp): a sleep costs ~60 bytes, not a timer and a frame of its own.
inline Task<void> sleep_for(std::chrono::steady_clock::duration duration) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(std::error_code)>(
      detail::SleepFor{duration}, asio::use_awaitable);
}

}  // namespace tendril
