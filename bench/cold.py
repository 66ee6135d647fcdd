"""Cold starts, each in a fresh process: start-up to first answer (with and without the saved prompt state)
and the chat page until it is ready."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .common import ROOT, child_env, free_port, prime_page_cache, proc_hwm, stop

# Run in a fresh interpreter: build the Assistant on an existing index and answer one question.
CHILD = r"""
import json, resource, sys, time
stamps = {"interpreter": time.time()}
root, index_dir, question = sys.argv[1:4]
from assistant.config import Settings
from assistant.answering import Assistant
stamps["imports"] = time.time()
a = Assistant(Settings.from_env(root=root, index_dir=index_dir))
stamps["assistant"] = time.time()
a.chat
stamps["model_loaded"] = time.time()
mode = a.warm()
stamps["prefix_ready"] = time.time()
text = ""
for kind, value in a.stream(question):
    if kind == "token" and "first_token" not in stamps:
        stamps["first_token"] = time.time()
    elif kind == "answer":
        text = value.text
stamps["answer"] = time.time()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print("BENCH_JSON " + json.dumps({"stamps": stamps, "warm": mode, "index_built": a.index.built,
                                  "answer": text, "peak_rss_bytes": rss}), flush=True)
"""


def cold_first_answer(index_dir: Path, question: str) -> dict:
    """Process start -> first answer in a fresh interpreter; stamps relative to the moment before spawning."""
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), str(index_dir), question],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    exited = time.time() - t0
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"cold-start child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    rel = {k: v - t0 for k, v in data.pop("stamps").items()}
    return {
        "first_answer_s": rel["answer"],
        "first_token_s": rel.get("first_token"),
        "interpreter_s": rel["interpreter"],
        "imports_s": rel["imports"] - rel["interpreter"],
        "assistant_s": rel["assistant"] - rel["imports"],
        "model_load_s": rel["model_loaded"] - rel["assistant"],
        "prefix_s": rel["prefix_ready"] - rel["model_loaded"],
        "answer_s": rel["answer"] - rel["prefix_ready"],
        "exited_s": exited,
        **data,
    }


def ui_page_ready(index_dir: Path, feedback: Path) -> dict:
    """Process start -> the chat page answers HTTP 200 (the model then loads in the background; not waited for)."""
    port = free_port()
    cmd = [sys.executable, "-m", "assistant.cli", "--index", str(index_dir), "ui"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--feedback", str(feedback)]
    url = f"http://127.0.0.1:{port}/"
    t0 = time.time()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"chat page exited with {proc.returncode}:\n{proc.stderr.read()[-3000:]}")
            if time.time() - t0 > 600:
                raise RuntimeError("chat page not ready after 600 s")
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        ready = time.time() - t0
        return {"page_ready_s": ready, "peak_rss_bytes": proc_hwm(proc.pid), "url": url}
    finally:
        stop(proc)


def cold_starts(index_src: Path, tmp: Path, question: str, quick: bool) -> dict:
    from assistant.config import Settings
    from assistant.llm import ensure_model

    prime_page_cache(ensure_model(Settings.from_env(root=ROOT)))
    index = tmp / "index-cold"
    if index_src.is_dir():
        shutil.copytree(index_src, index)
    if not (index / "fingerprint.json").is_file():  # no index yet (fresh clone): build one, untimed
        cmd = [sys.executable, "-m", "assistant.cli", "--index", str(index), "index"]
        subprocess.run(cmd, cwd=ROOT, env=child_env(), check=True, capture_output=True, timeout=900)
    out: dict = {"with_saved_state": None, "without_saved_state": None, "ui": None}
    if not quick:
        # Without the state first: it also (re)creates the state file that the next run restores.
        shutil.rmtree(index / "llm-state", ignore_errors=True)
        print("cold start without the saved prompt state ...", flush=True)
        out["without_saved_state"] = cold_first_answer(index, question)
    print("cold start with the saved prompt state ...", flush=True)
    out["with_saved_state"] = cold_first_answer(index, question)
    if not quick:
        print("chat page start ...", flush=True)
        out["ui"] = ui_page_ready(index, tmp / "feedback.jsonl")
    return out
