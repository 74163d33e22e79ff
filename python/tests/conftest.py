"""Shared fixtures: a real redis-server on a free loopback port, with a password."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

PASSWORD = "s3cret-pw"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_command(port: int, *args: str) -> str:
    """One command through redis-cli; its raw output."""
    return subprocess.run(
        ["redis-cli", "-p", str(port), "-a", PASSWORD, "--no-auth-warning", *args],
        check=True, capture_output=True, text=True, timeout=10,
    ).stdout


@pytest.fixture
def redis_port():
    server = shutil.which("redis-server")
    assert server, "redis-server is needed (scripts/setup.sh installs it)"
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="pipevine-redis-")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD,
         "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            if "PONG" in redis_command(port, "PING"):
                break
        except subprocess.CalledProcessError:
            pass
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_env(redis_port, monkeypatch):
    """PREFECT_REDIS_MESSAGING_* pointing at the test server."""
    monkeypatch.setenv("PREFECT_REDIS_MESSAGING_HOST", "127.0.0.1")
    monkeypatch.setenv("PREFECT_REDIS_MESSAGING_PORT", str(redis_port))
    monkeypatch.setenv("PREFECT_REDIS_MESSAGING_PASSWORD", PASSWORD)
    yield redis_port
