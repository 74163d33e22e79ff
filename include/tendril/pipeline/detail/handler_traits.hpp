// tendril/pipeline/detail/handler_traits.hpp — what a stage handler takes and gives, read off its
// type.
//
// A handler is `Out(In, WorkerState&)` or `Out(In)`, as a lambda, function object or function
// pointer with spelled-out parameter types. `Out` may be `Result<X>` to fail without throwing;
// `In` may be `Result<X>` to receive upstream errors as values.
#pragma once

#include <cstddef>
#include <expected>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>

#include "tendril/core/error.hpp"
#include "tendril/core/worker_state.hpp"

// Declared here so that handler types can be recognised as coroutines without pulling Asio
// into every translation unit; <tendril/task.hpp> includes the real thing.
namespace asio {
template <typename T, typename Executor>
class awaitable;
}  // namespace asio

namespace tendril::detail {

// A coroutine handler returns asio::awaitable<R> (tendril::Task<R>); R is what it yields.
template <class T>
struct async_traits {
  static constexpr bool is_async = false;
  using value_type = T;
};
template <class T, class Executor>
struct async_traits<asio::awaitable<T, Executor>> {
  static constexpr bool is_async = true;
  using value_type = T;
};

template <class T>
struct result_traits {
  static constexpr bool is_result = false;
  using value_type = T;
};
template <class T>
struct result_traits<std::expected<T, Error>> {
  static constexpr bool is_result = true;
  using value_type = T;
};

template <class R, class... Args>
struct signature {
  using result = R;
  using args = std::tuple<Args...>;
  static constexpr std::size_t arity = sizeof...(Args);
};

template <class F>
struct callable_signature;
template <class R, class... A>
struct callable_signature<R (*)(A...)> : signature<R, A...> {};
template <class R, class... A>
struct callable_signature<R (*)(A...) noexcept> : signature<R, A...> {};
template <class R, class C, class... A>
struct callable_signature<R (C::*)(A...)> : signature<R, A...> {};
template <class R, class C, class... A>
struct callable_signature<R (C::*)(A...) const> : signature<R, A...> {};
template <class R, class C, class... A>
struct callable_signature<R (C::*)(A...) noexcept> : signature<R, A...> {};
template <class R, class C, class... A>
struct callable_signature<R (C::*)(A...) const noexcept> : signature<R, A...> {};

template <class F>
concept has_plain_call_operator = requires {
  &F::operator();
};

template <class F>
struct handler_signature_of {
  static_assert(has_plain_call_operator<F>,
                "a Tendril handler needs spelled-out parameter types: write "
                "[](int item, tendril::WorkerState& state) { ... }, not auto parameters");
  using type = callable_signature<decltype(&F::operator())>;
};
template <class F>
requires std::is_pointer_v<F>
struct handler_signature_of<F> {
  using type = callable_signature<F>;
};

template <class F>
struct handler_traits {
  using sig = typename handler_signature_of<std::decay_t<F>>::type;
  static_assert(sig::arity == 1 || sig::arity == 2,
                "a Tendril handler takes (item) or (item, tendril::WorkerState&)");
  static constexpr bool takes_state = sig::arity == 2;
  using raw_input = std::remove_cvref_t<std::tuple_element_t<0, typename sig::args>>;
  static constexpr bool is_async = async_traits<typename sig::result>::is_async;
  using raw_output = typename async_traits<typename sig::result>::value_type;
  static_assert(!std::is_void_v<raw_output>,
                "a Tendril handler must return the item it passes on (or a Result, or a Task of "
                "either)");
  static constexpr bool accepts_errors = result_traits<raw_input>::is_result;
  static constexpr bool returns_result = result_traits<raw_output>::is_result;
  using input = typename result_traits<raw_input>::value_type;
  using output = typename result_traits<raw_output>::value_type;
};

template <class F>
using handler_input_t = typename handler_traits<F>::input;
template <class F>
using handler_output_t = typename handler_traits<F>::output;

// What travels between stages: an item, or an error behind a pointer, so that moving an item
// costs what moving T costs. Converted to and from the public Result<T> at the edges.
template <class T>
using Carried = std::expected<T, std::unique_ptr<Error>>;

inline std::unexpected<std::unique_ptr<Error>> carried_error(Error error) {
  return std::unexpected(std::make_unique<Error>(std::move(error)));
}

template <class T>
Carried<T> to_carried(Result<T>&& result) {
  if (result) return Carried<T>(std::move(*result));
  return carried_error(std::move(result.error()));
}

template <class T>
Result<T> to_result(Carried<T>&& carried) {
  if (carried) return Result<T>(std::move(*carried));
  return std::unexpected(std::move(*carried.error()));
}

// A handler in the one shape the engine calls: it takes ownership of a Carried<In> (holding a
// value unless the handler accepts errors) and returns Carried<Out>. Exceptions pass through;
// the stage turns them into errors. DirectHandler<F> is that shape for one handler type, called
// without indirection; ErasedHandler holds any of them.
template <class F>
class DirectHandler {
  using traits = handler_traits<F>;

 public:
  using In = typename traits::input;
  using Out = typename traits::output;

  explicit DirectHandler(F fn) : fn_(std::move(fn)) {}

  Carried<Out> operator()(Carried<In>&& input, WorkerState& state) {
    if constexpr (traits::returns_result) {
      return to_carried<Out>(output(std::move(input), state));
    } else {
      return Carried<Out>(output(std::move(input), state));
    }
  }

 private:
  decltype(auto) output(Carried<In>&& input, WorkerState& state) {
    if constexpr (traits::accepts_errors) {
      return call(to_result(std::move(input)), state);
    } else {
      return call(std::move(*input), state);
    }
  }
  template <class Arg>
  decltype(auto) call(Arg&& arg, WorkerState& state) {
    if constexpr (traits::takes_state) {
      return std::invoke(fn_, std::forward<Arg>(arg), state);
    } else {
      return std::invoke(fn_, std::forward<Arg>(arg));
    }
  }

  F fn_;
};

template <class In, class Out>
using ErasedHandler = std::function<Carried<Out>(Carried<In>&&, WorkerState&)>;

template <class F>
auto erase_handler(F fn) {
  using Direct = DirectHandler<F>;
  return ErasedHandler<typename Direct::In, typename Direct::Out>(Direct(std::move(fn)));
}

}  // namespace tendril::detail
