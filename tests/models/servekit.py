"""`transformers serve` on loopback with a tiny model: the real OpenAI-compatible server the model-backend, keywords
and culture tests talk to (one copy of the start, health wait and stop)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NEEDS = ("fastapi", "uvicorn", "openai")  # what `transformers serve` imports


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log_path: Path, limit_s: float = 180) -> None:
    """Wait until ``url``/health answers 200; fail with the server's log when it dies or takes too long."""
    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"transformers serve did not start:\n{log_path.read_text()[-3000:]}")


@contextmanager
def transformers_serve(folder: str, log_dir: Path) -> Iterator[str]:
    """Serve the model in ``folder`` on a free loopback port; yields the root URL (``http://127.0.0.1:PORT``)."""
    for module in NEEDS:
        pytest.importorskip(module, reason="transformers serve needs fastapi, uvicorn and openai")
    port = free_port()
    log_path = Path(log_dir) / "serve.log"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    cmd = [sys.executable, "-m", "transformers.cli.transformers", "serve", folder, "--host", "127.0.0.1",
           "--port", str(port), "--device", "cpu", "--default-seed", "0"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    root = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(root, proc, log_path)
        yield root
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
