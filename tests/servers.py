"""Real servers started by the tests: the chat page, a Chroma server, llama.cpp's OpenAI-compatible server.

Each runs in its own process group, bound to 127.0.0.1, logging to a file, and is stopped (group-wide) at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


class Process:
    """A server subprocess: ``wait()`` until ``ready()`` is true, ``stop()`` kills its whole group."""

    def __init__(self, cmd: list[str], log: Path, env: dict[str, str] | None = None, unset: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        self.cmd = [c.replace("{port}", str(self.port)) for c in cmd]
        self.ready: Callable[[], bool] = lambda: True  # set by the helper that knows how this server says so
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        for name in unset:
            self.env.pop(name, None)
        self.start()

    def start(self) -> None:
        self._out = open(self.log, "a")  # closed in stop()
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, ready: Callable[[], bool], timeout: float = 300) -> Process:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.cmd[0]} exited ({self.proc.returncode}):\n{self.text()[-3000:]}")
            if ready():
                return self
            time.sleep(0.5)
        raise TimeoutError(f"{self.cmd} not up after {timeout} s:\n{self.text()[-3000:]}")

    def restart(self, timeout: float = 300) -> Process:
        """Start the stopped server again and wait until it is ready."""
        self.start()
        return started(self, self.ready, timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self._out.close()


def started(process: Process, ready: Callable[[], bool], timeout: float = 300) -> Process:
    """Wait for a server to come up; stop it (and re-raise) when it does not."""
    try:
        return process.wait(ready, timeout)
    except BaseException:
        process.stop()
        raise


def chroma_server(path: Path, log: Path) -> Process:
    """``chroma run`` on loopback, data under ``path``."""
    cmd = [str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1", "--port", "{port}"]
    p = Process(cmd, log, env={"ANONYMIZED_TELEMETRY": "False"})
    p.ready = lambda: http_ok(f"{p.url}api/v2/heartbeat")
    return started(p, p.ready, timeout=120)


def llama_server(model: Path, log: Path, n_ctx: int = 4096) -> Process:
    """llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) serving one GGUF."""
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    cmd += ["--port", "{port}", "--n_ctx", str(n_ctx), "--seed", "0", "--model_alias", "local"]
    cmd += ["--n_threads", str(os.cpu_count() or 1), "--n_threads_batch", str(os.cpu_count() or 1)]
    cmd += ["--interrupt_requests", "False"]  # by default a new request cuts off the one streaming
    p = Process(cmd, log)
    return started(p, lambda: http_ok(f"{p.url}v1/models"), timeout=300)


def chat_page(tmp: Path, env: dict[str, str] | None = None, host: str | None = "127.0.0.1") -> Process:
    """``assistant ui`` with its feedback log under ``tmp``; ``host=None`` keeps the default bind address."""
    env = {"ASSISTANT_FEEDBACK_PATH": str(tmp / "feedback.jsonl"), **(env or {})}
    cmd = [sys.executable, "-m", "assistant.cli", "ui", "--port", "{port}"] + (["--host", host] if host else [])
    p = Process(cmd, tmp / "server.log", env=env, unset=() if host else ("ASSISTANT_HOST",))
    p.feedback = Path(p.env["ASSISTANT_FEEDBACK_PATH"])
    return p


def reader_page(tmp: Path, root: Path, chroma: Process, model: Process, collection: str) -> Process:
    """A chat page as in the README's "Scaling out": the store and the model are the given servers."""
    env = {
        "ASSISTANT_ROOT": str(root),
        "ASSISTANT_INDEX_DIR": str(tmp / "index"),
        "ASSISTANT_CHROMA_URL": chroma.url,
        "ASSISTANT_COLLECTION": collection,
        "ASSISTANT_LLM_URL": f"{model.url}v1",
        "ASSISTANT_LLM_MODEL": "local",
    }
    return chat_page(tmp, env)


def page_ready(page: Process, timeout: float = 300) -> Process:
    return started(page, lambda: "Chat page ready" in page.text(), timeout)


def ask_api(client, question: str, new: bool, timeout: float = 900) -> dict:
    """One question through the page's ``/ask`` endpoint, then wait until the client's event stream has closed.

    gradio_client 2.7 has a race for a client asking one question after another: the server ends a session's
    stream right after the last result (``close_stream``), and a question submitted before the client's reader
    has read that message is attached to the closing stream and fails with ``CancelledError`` (seen once in
    CI, session 9 of 20). A browser opens a stream per question and has no such race, so the tests wait for
    the reader to finish, as a person would, instead of retrying (a retry would ask the server twice).
    """
    result = client.submit(question, new, api_name="/ask").result(timeout=timeout)
    deadline = time.monotonic() + 30
    while client.stream_open and time.monotonic() < deadline:
        time.sleep(0.02)
    return result
