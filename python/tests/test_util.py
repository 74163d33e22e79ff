"""pipevine.util: errors as values and their helpers."""

import pytest

from pipevine import Err, err_as_value, get_err, is_err, is_ok, unwrap, unwrap_or, with_retry


def test_err_str_is_the_value_then_a_line_per_trace_entry():
    err = Err("outer").wrap(Err("inner", [Err("deeper")]))
    assert str(err) == "outer\ninner\ndeeper"
    assert repr(err) == str(err)


def test_helpers_tell_errors_from_values():
    assert is_err(Err("x")) and not is_ok(Err("x"))
    assert is_ok(3) and not is_err(3)
    assert get_err(Err(ValueError("bad"))) == "bad"
    assert get_err(5) == ""
    assert unwrap(5) == 5
    assert unwrap_or(Err("x"), 7) == 7
    with pytest.raises(RuntimeError, match="unwrap on Err: boom"):
        unwrap(Err("boom"))


def test_err_as_value_turns_an_exception_into_its_repr():
    @err_as_value
    def bad(x):
        raise ValueError("bad")

    assert bad(1) == Err("ValueError('bad')")


def test_with_retry_calls_until_a_value_and_wraps_the_last_error():
    calls = []

    @with_retry(3)
    def flaky(x):
        calls.append(x)
        if len(calls) < 3:
            raise ValueError("x")
        return x * 2

    assert flaky(4) == 8 and len(calls) == 3

    @with_retry(2)
    def always(x):
        raise ValueError("x")

    assert repr(always(1)) == "failed with retry\nValueError('x')"


def test_with_retry_without_a_positive_count_never_calls():
    called = []

    @with_retry(0)
    def f(x):
        called.append(x)

    assert f(1) == Err("retry without positive try value")
    assert called == []
