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

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>

#include "tendril/pipeline/detail/async_stage.hpp"
#include "tendril/pipeline/pipeline.hpp"

namespace tendril {

template <class T>
using Task = asio::awaitable<T>;

// Suspends the calling coroutine for `duration` on its executor; throws
// asio::system_error(operation_aborted) when the run is cancelled meanwhile.
inline Task<void> sleep_for(std::chrono::steady_clock::duration duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace tendril
