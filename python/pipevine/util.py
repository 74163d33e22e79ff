"""Errors as values: Err, Result and their helpers, as in the original pipevine.util."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, TypeVar, Union

T = TypeVar("T")


@dataclass
class Err:
    """An error carried as a value. str() is the message plus a line per trace entry."""

    value: Union[str, Exception]
    trace: list = field(default_factory=list)

    def wrap(self, other: "Err") -> "Err":
        self.trace = [Err(other.value), *other.trace, *self.trace]
        return self

    def __str__(self) -> str:
        return "\n".join([str(self.value), *(str(t) for t in self.trace)])

    __repr__ = __str__


Result = Union[T, Err]


def is_err(result: Any) -> bool:
    return isinstance(result, Err)


def is_ok(result: Any) -> bool:
    return not isinstance(result, Err)


def get_err(result: Any) -> str:
    return str(result.value) if isinstance(result, Err) else ""


def unwrap(result: Any) -> Any:
    if isinstance(result, Err):
        raise RuntimeError(f"unwrap on Err: {result.value}")
    return result


def unwrap_or(result: Any, default: Any) -> Any:
    return default if isinstance(result, Err) else result


def err_as_value(f: Callable[..., Any]) -> Callable[..., Any]:
    """f, with an Exception it raises returned as Err(repr(exception))."""

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the point of the helper
            return Err(repr(exc))

    return wrapped


def with_retry(n: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Up to n calls of f, no delay; the first result that is not an Err wins."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if n < 1:
                return Err("retry without positive try value")
            last: Err = Err("failed with retry")
            for _ in range(n):
                try:
                    result = f(*args, **kwargs)
                except Exception as exc:  # noqa: BLE001
                    result = Err(repr(exc))
                if not isinstance(result, Err):
                    return result
                last = result
            return Err("failed with retry").wrap(last)

        return wrapped

    return decorate


async def aiter_from_iter(iterable: Iterable[T]) -> AsyncIterator[T]:
    for item in iterable:
        yield item


def _awaitable(value: Any) -> Awaitable[Any]:
    async def wait() -> Any:
        return await value

    return wait()
