"""What every part of the benchmark shares: paths, the questions, summaries, processes and memory."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS_FILE = Path(__file__).resolve().parent / "questions.txt"
GiB = 1024**3


def load_questions(path: Path = QUESTIONS_FILE) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def summary(values: list[float]) -> dict:
    """Median and 95th percentile (linear interpolation) of the values that are not None."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return {"median": None, "p95": None, "n": 0}
    pos = 0.95 * (len(xs) - 1)
    lo, frac = int(pos), pos - int(pos)
    p95 = xs[lo] + (xs[min(lo + 1, len(xs) - 1)] - xs[lo]) * frac
    return {"median": statistics.median(xs), "p95": p95, "n": len(xs)}


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def engine_version() -> str:
    """The commit measured, marked dirty when the engine or prompts differ from it."""
    try:
        git = ["git", "-C", str(ROOT)]
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "assistant", "prompts"], capture_output=True, text=True)
        return head + ("+dirty" if dirty.stdout.strip() else "") if head else "unknown"
    except OSError:
        return "unknown"


def self_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_hwm(pid: int) -> int | None:
    """Peak resident memory of a running process (VmHWM), read before it is stopped."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def stop(proc: subprocess.Popen) -> None:
    """Stop a process this bench started (its own session, so its children go too)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def child_env() -> dict:
    return {**os.environ, "ASSISTANT_ROOT": str(ROOT), "PYTHONPATH": str(ROOT)}


def prime_page_cache(path: Path) -> None:
    """Read the model file once so every cold start below sees it in the OS page cache alike."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def emit(report: dict, out: Path | None) -> None:
    """Print a benchmark's report as JSON and, given ``out``, write it there too."""
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
