"""prefect_tool_state on Tendril's publisher: the dataclass, the fallback log, the Redis wire."""

import dataclasses
import json
import logging
import os
import re
import signal
import time

import pytest

import prefect_tool_state
from prefect_tool_state import ToolState, ToolStateManager, ToolStatePublisher
from prefect_tool_state import tool_state_publisher as tsp

from conftest import PASSWORD, redis_command


@pytest.fixture(autouse=True)
def no_shared_publisher(monkeypatch):
    # Each test gets its own singleton; the module's one is put back afterwards.
    monkeypatch.setattr(tsp, "_singleton", None)
    for name in ("HOST", "PORT", "PASSWORD", "URL", "DB", "USERNAME", "SSL"):
        monkeypatch.delenv(f"PREFECT_REDIS_MESSAGING_{name}", raising=False)


def test_module_layout_and_version():
    assert prefect_tool_state.__all__ == [
        "ToolState", "ToolStatePublisher", "ToolStateManager", "get_tool_state_publisher"]
    assert prefect_tool_state.__version__ == "0.1.0"


def test_tool_state_fields_in_order_with_defaults(monkeypatch):
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "run-7")
    state = ToolState()
    names = [f.name for f in dataclasses.fields(ToolState)]
    assert names == ["type", "flow_run_id", "state", "tool_name", "step_name", "message",
                     "total_files", "processed_files", "current_file_name", "steps", "timestamp"]
    assert (state.type, state.flow_run_id, state.state, state.steps) == (
        "ToolState", "run-7", "INFO", [])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00", state.timestamp)


def test_build_is_a_copy_with_a_new_timestamp():
    base = ToolState(tool_name="t", timestamp="2000-01-01T00:00:00+00:00")
    built = base.build(state="RUNNING", timestamp="ignored")
    assert built.state == "RUNNING" and base.state == "INFO"
    assert built.timestamp not in ("ignored", base.timestamp)
    with pytest.raises(TypeError):
        base.build(tool_run_id="x")


def test_without_redis_states_are_logged_as_fallback(caplog):
    caplog.set_level("INFO", logger="tool_state_publisher")
    publisher = ToolStatePublisher()
    assert not publisher.started
    publisher.publish_data(ToolState(tool_name="scan"))
    messages = [r.getMessage() for r in caplog.records]
    assert any("Redis messaging not configured" in m for m in messages)
    fallback = [m for m in messages if m.startswith("ToolState (fallback): {")]
    assert len(fallback) == 1 and "'tool_name': 'scan'" in fallback[0]
    publisher.shutdown()  # never started: returns at once


def read_stream(port, topic="progress"):
    raw = redis_command(port, "XRANGE", topic, "-", "+").splitlines()
    # redis-cli prints id, then field/value pairs, one per line.
    entries, i = [], 0
    while i < len(raw):
        entry_id = raw[i]
        fields = dict(zip(raw[i + 1:i + 5:2], raw[i + 2:i + 5:2]))
        entries.append((entry_id, fields))
        i += 5
    return entries


def test_states_reach_redis_as_one_xadd_per_flush(redis_env, caplog):
    caplog.set_level("INFO", logger="tool_state_publisher")
    publisher = tsp.get_tool_state_publisher(flush_interval=0.05, batch_size=1000)
    assert publisher.started
    for i in range(50):
        state = ToolState(tool_name="scan", processed_files=i)
        publisher.publish_dict({**dataclasses.asdict(state), "custom": i})
    publisher.shutdown()
    entries = read_stream(redis_env)
    assert 1 <= len(entries) <= 50
    states = []
    for _, fields in entries:
        data = json.loads(fields["data"])
        attributes = json.loads(fields["attributes"])
        assert data["schema"] == "PythonTool"
        assert attributes["event_type"] == "tool" and attributes["count"] == len(data["data"])
        states.extend(data["data"])
    assert [s["processed_files"] for s in states] == list(range(50))
    assert [s["custom"] for s in states] == list(range(50))  # extra keys kept
    assert list(states[0])[:11] == [f.name for f in dataclasses.fields(ToolState)]
    assert publisher.stats()["sent"] == 50
    messages = [r.getMessage() for r in caplog.records]
    assert "Tool state publisher worker started." in messages
    assert "Tool state publisher worker stopped." in messages
    # After shutdown, states are only logged.
    publisher.publish_data(ToolState(tool_name="late"))
    assert any("'tool_name': 'late'" in m for m in (r.getMessage() for r in caplog.records))


def test_publish_never_waits_for_redis(redis_env):
    # Redis frozen (SIGSTOP) while 5,000 states are published: a publish that waited on Redis
    # would hang here. Thawed, every state is delivered.
    info = redis_command(redis_env, "INFO", "server")
    pid = int(next(line.split(":")[1] for line in info.splitlines()
                   if line.startswith("process_id:")))
    publisher = tsp.get_tool_state_publisher(flush_interval=0.01, batch_size=20)
    state = dataclasses.asdict(ToolState(tool_name="fast"))
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(5000):
            publisher.publish_dict(state)
        assert publisher.stats()["sent"] < 5000  # they are queued, not sent
    finally:
        os.kill(pid, signal.SIGCONT)
    publisher.shutdown()
    stats = publisher.stats()
    # At least once: a batch whose reply timed out while Redis was frozen is sent again.
    assert stats["sent"] >= 5000 and stats["dropped"] == 0, stats


def test_a_wrong_password_is_reported_without_the_password(redis_port, monkeypatch):
    monkeypatch.setenv("PREFECT_REDIS_MESSAGING_HOST", "127.0.0.1")
    monkeypatch.setenv("PREFECT_REDIS_MESSAGING_PORT", str(redis_port))
    monkeypatch.setenv("PREFECT_REDIS_MESSAGING_PASSWORD", "wrong-" + PASSWORD)
    publisher = ToolStatePublisher(flush_interval=0.05)
    publisher.publish_data(ToolState(tool_name="x"))
    deadline = time.monotonic() + 5
    while not publisher.stats()["last_error"] and time.monotonic() < deadline:
        time.sleep(0.02)
    error = publisher.stats()["last_error"]
    assert error and PASSWORD not in error
    publisher._engine.shutdown(0.2)


def test_the_wire_is_the_originals_bytes(redis_env, caplog):
    # What the original writes: XADD progress * data json.dumps({...}) attributes json.dumps({...}),
    # json.dumps's default formatting, extra keys and any value kept as given, no MAXLEN.
    caplog.set_level("INFO", logger="tool_state_publisher")
    publisher = ToolStatePublisher(flush_interval=0.05, batch_size=1000)
    states = [
        {**dataclasses.asdict(ToolState(tool_name="scan \u00fc \U0001F600", message="a\nb")),
         "ratio": 0.5, "big": 1e16},
        {"total_files": "many", "nested": {"k": [1, None, True]}},  # the original sends any dict
    ]
    for state in states:
        publisher.publish_dict(state)
    publisher.shutdown()
    entries = read_stream(redis_env)
    assert len(entries) == 1
    fields = entries[0][1]
    assert fields["data"] == json.dumps({"schema": "PythonTool", "data": states})
    attributes = json.loads(fields["attributes"])
    assert list(attributes) == ["event_type", "count", "timestamp"]
    assert fields["attributes"] == json.dumps(attributes)
    assert (attributes["event_type"], attributes["count"]) == ("tool", 2)
    assert "Publishing batch of 2 tool state updates." in [r.getMessage() for r in caplog.records]


def test_a_state_json_cannot_write_is_refused_and_logged(redis_env, caplog):
    publisher = ToolStatePublisher(flush_interval=0.05)
    publisher.publish_dict({"when": object()})
    assert any("Failed to queue tool state for publishing" in r.getMessage()
               and "not JSON serializable" in r.getMessage() for r in caplog.records)
    publisher.shutdown()
    assert publisher.stats()["sent"] == 0


def test_get_tool_state_publisher_is_one_instance_and_warns_on_other_arguments(caplog):
    first = tsp.get_tool_state_publisher()
    assert tsp.get_tool_state_publisher() is first
    caplog.set_level("WARNING", logger="tool_state_publisher")
    assert tsp.get_tool_state_publisher(topic_name="other") is first
    assert any("arguments are ignored" in r.getMessage() for r in caplog.records)


def test_manager_publishes_from_a_base_that_never_changes(redis_env):
    manager = ToolStateManager("scan", ["walk", "hash"])
    manager.starting_tool()
    manager.publish_step_details(step_name="hash", processed_files=5)
    manager.completed_tool()
    manager.failed_tool("disk gone")
    manager.finish()
    states = []
    for _, fields in read_stream(redis_env):
        states.extend(json.loads(fields["data"])["data"])
    assert [s["state"] for s in states] == ["RUNNING", "INFO", "COMPLETED", "FAILED"]
    assert states[1]["processed_files"] == 5
    assert states[2]["processed_files"] == 0  # the base was not updated
    assert states[3]["message"] == "disk gone"
    assert all(s["steps"] == ["walk", "hash"] and s["tool_name"] == "scan" for s in states)


def test_importing_sets_up_the_root_logger_only_when_it_has_no_handlers():
    import subprocess
    import sys

    code = ("import logging, prefect_tool_state; "
            "print([type(h).__name__ for h in logging.getLogger().handlers], "
            "logging.getLogger().level)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**__import__("os").environ, "LOG_LEVEL": "debug"})
    assert out.stdout.strip() == "['StreamHandler'] 10"
    code = ("import logging; logging.getLogger().addHandler(logging.NullHandler()); "
            "import prefect_tool_state; "
            "print([type(h).__name__ for h in logging.getLogger().handlers])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "['NullHandler']"
