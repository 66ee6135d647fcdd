"""Benchmark the assistant in one run: cold start, index, retrieval, answering vs. two baselines, memory.

    python -m bench                 # all questions, every cold-start measurement (~10 min on 2 CPUs)
    python -m bench --quick         # 3 questions, one cold start: a smoke run for CI
    python -m bench --out DIR/x.json

Three ways of answering are timed side by side, question by question, on the same loaded llama.cpp model:

(a) project   ``Assistant.stream``: hybrid retrieval, the article kept as an evaluated prompt prefix, checks,
              citations. Its prefix is put back (``Assistant.warm``, untimed) before each question, because (b)
              and (c) overwrite llama.cpp's KV cache in between; in the app nothing else uses the model.
(b) langchain the LangChain tutorial RAG chain: Chroma retriever (k=4) | format docs | ChatPromptTemplate |
              the same model through LangChain | StrOutputParser. Its prompt starts with the retrieved passages,
              so llama.cpp's automatic common-prefix reuse helps it little; no checks, no citations.
(c) raw       ``llama_cpp.Llama.create_completion`` given only the question, forced (end tokens banned) to make
              as many forward passes as (a) made while generating: normally its N answer tokens (``Decision.raw``
              tokenized) plus the end token that stopped it; when (a) retried with a narrower context, the
              generated tokens of both attempts (llama.cpp's own count). The floor.

Timings are wall-clock and noisy on shared CPUs: compare the ratios, which are measured in the same run.
Targets are printed next to the measurements; nothing here fails on a missed target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS_FILE = Path(__file__).resolve().parent / "questions.txt"
QUICK_N = 3
RETRIEVAL_REPEATS = 3
GiB = 1024**3

BASELINE_TEMPLATE = "Answer the question based only on the following context:\n{context}\n\nQuestion: {question}"

SOMETIMES_UNMEASURED = {"project_first_words_median_s", "project_three_sentence_total_median_s"}
# (key in the report, label, comparison, limit)
TARGETS = [
    ("ratio_project_vs_raw", "(a)/(c) median total time", "<=", 1.5),
    ("ratio_project_vs_langchain", "(a)/(b) median total time", "<=", 0.3),
    ("project_first_token_median_s", "(a) first token, median [s]", "<=", 1.0),
    ("project_total_median_s", "(a) total answer time, median [s]", "<=", 2.0),
    ("project_first_words_median_s", "(a) first checked sentence shown, median [s]", "<=", 1.0),
    ("project_three_sentence_total_median_s", "(a) answers of 3+ sentences, total, median [s]", "<=", 4.0),
    ("restart_first_answer_s", "restart -> first answer, saved state [s]", "<=", 5.0),
    ("peak_rss_gib", "peak RSS of an answering process [GiB]", "<=", 3.0),
]

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


# -- small helpers -----------------------------------------------------------------------------------------
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


# -- cold starts (fresh processes) ---------------------------------------------------------------------------
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


# -- one process, warm ----------------------------------------------------------------------------------------
class Perf:
    """llama.cpp's own counters: prompt tokens evaluated and generated tokens, with their times."""

    def __init__(self, llama):
        import llama_cpp

        self._lib, self._ctx = llama_cpp, llama._ctx.ctx

    def reset(self) -> None:
        self._lib.llama_perf_context_reset(self._ctx)

    def read(self) -> dict:
        d = self._lib.llama_perf_context(self._ctx)
        return {
            "prompt_tokens": d.n_p_eval,
            "prompt_s": d.t_p_eval_ms / 1e3,
            "gen_tokens": d.n_eval,
            "gen_s": d.t_eval_ms / 1e3,
        }


def run_project(a, perf: Perf, question: str) -> dict:
    a.warm()  # untimed: put the article prefix back after (b)/(c) used the model
    perf.reset()
    t0 = time.perf_counter()
    first, words, answer, decision = None, None, None, None
    for kind, value in a.stream(question):
        if kind == "token" and first is None:
            first = time.perf_counter() - t0
        elif kind == "sentence" and words is None:  # the first checked sentence a reader sees
            words = time.perf_counter() - t0
        elif kind == "decision":
            decision = value
        elif kind == "answer":
            answer = value
    total = time.perf_counter() - t0
    llama = a.chat.llama
    raw = decision.raw if decision else ""
    stats = perf.read()
    return {
        "first_token_s": first,
        "first_words_s": words,
        "total_s": total,
        "sentences": len(answer.sentences),
        "retrieve_s": answer.timings.get("retrieve_s"),
        "generate_s": answer.timings.get("generate_s"),
        "raw": raw,
        "raw_tokens": len(llama.tokenize(raw.encode("utf-8"), add_bos=False, special=False)) if raw else 0,
        "answer": answer.text,
        "abstained": answer.abstained,
        "retried": bool(getattr(decision, "retried", False)),
        **stats,
    }


def langchain_chain(a):
    """The LangChain RAG tutorial chain over the project's Chroma store and the same model."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough

    from assistant.llm import chat_model

    retriever = a.index.store.as_retriever(search_kwargs={"k": 4})
    prompt = ChatPromptTemplate.from_template(BASELINE_TEMPLATE)

    def format_docs(docs):
        return "\n\n".join(doc.page_content for doc in docs)

    llm = chat_model(a.settings)
    return {"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt | llm | StrOutputParser()


def run_langchain(chain, perf: Perf, question: str) -> dict:
    perf.reset()
    t0 = time.perf_counter()
    first, text = None, ""
    for piece in chain.stream(question):
        if first is None:
            first = time.perf_counter() - t0
        text += piece
    return {"first_token_s": first, "total_s": time.perf_counter() - t0, "answer": text, **perf.read()}


def run_raw(llama, perf: Perf, question: str, n_tokens: int, ban: dict[int, float]) -> dict | None:
    if n_tokens <= 0:
        return None
    perf.reset()
    t0 = time.perf_counter()
    first, text = None, ""
    stream = llama.create_completion(
        question, max_tokens=n_tokens, temperature=0.0, top_k=1, seed=0, logit_bias=ban, stream=True
    )
    for part in stream:
        if first is None:
            first = time.perf_counter() - t0
        text += part["choices"][0]["text"]
    stats = perf.read()
    return {
        "first_token_s": first,
        "total_s": time.perf_counter() - t0,
        "answer": text,
        "requested_tokens": n_tokens,
        "stopped_early": stats["gen_tokens"] + 1 < n_tokens,
        **stats,
    }


def floor_tokens(project: dict) -> int:
    """Tokens (c) must sample to match (a)'s forward passes while generating (0: (a) never asked the model)."""
    if not project["raw_tokens"]:
        return 0
    return max(project["raw_tokens"], project["gen_tokens"]) + 1  # the last sampled token is never decoded


def eog_ban(llama) -> dict[int, float]:
    """A logit bias that forbids every end-of-generation token, so (c) writes exactly max_tokens."""
    import llama_cpp

    vocab = llama._model.vocab
    return {t: -1e9 for t in range(llama.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)}


def rates(rows: list[dict]) -> dict:
    """Tokens per second over all questions, from llama.cpp's counters."""
    pt = sum(r["prompt_tokens"] for r in rows)
    ps = sum(r["prompt_s"] for r in rows)
    gt = sum(r["gen_tokens"] for r in rows)
    gs = sum(r["gen_s"] for r in rows)
    return {
        "prompt_tokens_per_question": pt / len(rows) if rows else None,
        "prompt_tokens_per_s": pt / ps if ps else None,
        "gen_tokens_per_question": gt / len(rows) if rows else None,
        "gen_tokens_per_s": gt / gs if gs else None,
    }


def variant_summary(rows: list[dict]) -> dict:
    rows = [r for r in rows if r]
    return {
        "retried": sum(bool(r.get("retried")) for r in rows),
        "abstained": sum(bool(r.get("abstained")) for r in rows),
        "first_token_s": summary([r["first_token_s"] for r in rows]),
        "total_s": summary([r["total_s"] for r in rows]),
        **rates(rows),
    }


def warm_process(questions: list[str], tmp: Path) -> dict:
    """Index build and start-up, retrieval, and (a)/(b)/(c) answering, all in this process."""
    t = time.perf_counter()
    from assistant import llm as llm_mod
    from assistant.answering import Assistant
    from assistant.config import Settings
    from assistant.index import get_embeddings

    imports_s = time.perf_counter() - t

    t = time.perf_counter()
    get_embeddings()
    embedding_load_s = time.perf_counter() - t

    index = tmp / "index-warm"
    shutil.copytree(tmp / "index-cold", index)  # the cold starts' copy: an index that exists, with its saved state
    t = time.perf_counter()
    a = Assistant(Settings.from_env(root=ROOT, index_dir=index))
    open_s = time.perf_counter() - t

    t = time.perf_counter()
    scratch = Assistant(Settings.from_env(root=ROOT, index_dir=tmp / "index-scratch"))
    build_s = time.perf_counter() - t
    startup = {
        "imports_s": imports_s,
        "embedding_model_load_s": embedding_load_s,
        "existing_index_startup_s": open_s,
        "existing_index_was_rebuilt": a.index.built,
        "index_build_s": build_s,
        "index_build_rebuilt": scratch.index.built,
        "passages": len(a.index.passages),
    }
    del scratch

    t = time.perf_counter()
    a.chat  # noqa: B018 - loads the model
    startup["model_load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    startup["prefix_warm_mode"] = a.warm()
    startup["prefix_warm_s"] = time.perf_counter() - t
    llama = llm_mod._LLAMA
    startup["prefix_tokens"] = llama.n_tokens
    startup["n_threads"], startup["n_threads_batch"] = llama.n_threads, llama.n_threads_batch

    # retrieval: the project's hybrid retriever and the baseline's plain vector retriever
    vector = a.index.store.as_retriever(search_kwargs={"k": 4})
    hybrid_t, vector_t = [], []
    for q in questions:
        for _ in range(RETRIEVAL_REPEATS):
            t = time.perf_counter()
            a.retriever.retrieve(q)
            hybrid_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            vector.invoke(q)
            vector_t.append(time.perf_counter() - t)
    retrieval = {"hybrid_s": summary(hybrid_t), "vector_only_s": summary(vector_t)}

    perf = Perf(llama)
    chain = langchain_chain(a)
    ban = eog_ban(llama)
    # one untimed round so that first-call costs (lazy imports, template compilation) are not counted
    warmup = run_project(a, perf, questions[0])
    run_langchain(chain, perf, questions[0])
    run_raw(llama, perf, questions[0], floor_tokens(warmup), ban)

    per_question = []
    for i, q in enumerate(questions, 1):
        pa = run_project(a, perf, q)
        pb = run_langchain(chain, perf, q)
        pc = run_raw(llama, perf, q, floor_tokens(pa), ban)
        per_question.append({"question": q, "project": pa, "langchain": pb, "raw": pc})
        print(
            f"[{i:2}/{len(questions)}] (a) {pa['total_s']:5.2f}s  (b) {pb['total_s']:5.2f}s  "
            f"(c) {pc['total_s'] if pc else float('nan'):5.2f}s  {q}  -> {pa['answer']}",
            flush=True,
        )
    # the app's prefix back in place, then report how long restoring it from the state file takes
    llama.reset()
    t = time.perf_counter()
    restore_mode = a.warm()
    startup["prefix_restore_from_file_s"] = time.perf_counter() - t
    startup["prefix_restore_mode"] = restore_mode
    return {"startup": startup, "retrieval": retrieval, "per_question": per_question}


# -- report ------------------------------------------------------------------------------------------------------
def build_report(questions: list[str], quick: bool, cold: dict, warm: dict, meta: dict) -> dict:
    pq = warm["per_question"]
    answers = {v: variant_summary([r[v] for r in pq]) for v in ("project", "langchain", "raw")}
    med = {v: answers[v]["total_s"]["median"] for v in answers}
    breakdown = {}
    rows = [r["project"] for r in pq]
    if rows:
        n = len(rows)
        breakdown = {
            "retrieve_s": sum(r["retrieve_s"] or 0 for r in rows) / n,
            "prompt_eval_s": sum(r["prompt_s"] for r in rows) / n,
            "generation_s": sum(r["gen_s"] for r in rows) / n,
        }
        breakdown["other_s"] = sum(r["total_s"] for r in rows) / n - sum(breakdown.values())
    with_state = cold.get("with_saved_state") or {}
    rss = {
        "bench_process_bytes": self_rss(),
        "cold_with_state_bytes": with_state.get("peak_rss_bytes"),
        "cold_without_state_bytes": (cold.get("without_saved_state") or {}).get("peak_rss_bytes"),
        "ui_page_ready_bytes": (cold.get("ui") or {}).get("peak_rss_bytes"),
    }
    answering = [v for k, v in rss.items() if k.startswith("cold_") and v]
    measured = {
        "ratio_project_vs_raw": ratio(med["project"], med["raw"]),
        "ratio_project_vs_langchain": ratio(med["project"], med["langchain"]),
        "project_first_token_median_s": answers["project"]["first_token_s"]["median"],
        "project_first_words_median_s": summary(
            [r.get("first_words_s") for r in rows]
        )["median"],
        "project_three_sentence_total_median_s": summary(
            [r["total_s"] for r in rows if r.get("sentences", 0) >= 3]
        )["median"],
        "project_total_median_s": med["project"],
        "restart_first_answer_s": with_state.get("first_answer_s"),
        "peak_rss_gib": max(answering) / GiB if answering else None,
    }
    targets, not_measured = [], []
    for key, label, op, limit in TARGETS:
        value = measured[key]
        if value is None and key in SOMETIMES_UNMEASURED:  # e.g. --quick wrote no answer of three sentences
            not_measured.append(key)
            continue
        ok = None if value is None else value <= limit
        targets.append({"key": key, "label": label, "target": f"{op} {limit}", "measured": value, "ok": ok})
    return {
        "meta": {**meta, "quick": quick, "questions": len(questions), "not_measured": not_measured},
        "cold_start": cold,
        "startup": warm["startup"],
        "retrieval": warm["retrieval"],
        "answer": answers,
        "project_time_breakdown_mean": breakdown,
        "ratios": {
            "project_vs_langchain_total": measured["ratio_project_vs_langchain"],
            "project_vs_raw_total": measured["ratio_project_vs_raw"],
            "project_vs_langchain_first_token": ratio(
                answers["project"]["first_token_s"]["median"], answers["langchain"]["first_token_s"]["median"]
            ),
            "project_vs_raw_first_token": ratio(
                answers["project"]["first_token_s"]["median"], answers["raw"]["first_token_s"]["median"]
            ),
        },
        "memory": rss,
        "targets": targets,
        "per_question": pq,
    }


def fmt(v, unit: str = "s") -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, str):
        return v
    if unit == "GiB":
        return f"{v / GiB:.2f} GiB"
    if unit == "x":
        return f"{v:.2f}x"
    if unit == "":
        return f"{v:.1f}"
    return f"{v:.3f} s" if v < 1 else f"{v:.2f} s"


def table(report: dict) -> str:
    lines: list[str] = []

    def row(label, value, unit="s"):
        lines.append(f"  {label:<52} {fmt(value, unit):>14}")

    m = report["meta"]
    lines.append(
        f"Benchmark: {m['questions']} questions, quick={m['quick']}, {m['cpus']} CPUs, "
        f"n_threads={report['startup']['n_threads']}/{report['startup']['n_threads_batch']} (generate/prompt), "
        f"load average {m['loadavg_start']:.1f} -> {m['loadavg_end']:.1f}, engine {m['engine']}"
    )
    cold = report["cold_start"]
    lines.append("Cold start (fresh process; model file in the page cache)")
    for key, label in (("with_saved_state", "saved prompt state"), ("without_saved_state", "no saved state")):
        c = cold.get(key)
        if c:
            row(f"process start -> first answer, {label}", c["first_answer_s"])
            row(
                "   imports / Assistant / model / prefix / answer",
                " / ".join(f"{c[k]:.1f}" for k in ("imports_s", "assistant_s", "model_load_s", "prefix_s", "answer_s")),
                "",
            )
            row(f"   peak RSS (prefix {c['warm']})", c["peak_rss_bytes"], "GiB")
    if cold.get("ui"):
        row("process start -> chat page HTTP 200", cold["ui"]["page_ready_s"])
        row("   chat page peak RSS at that moment", cold["ui"]["peak_rss_bytes"], "GiB")
    s = report["startup"]
    lines.append("Start-up pieces (this process)")
    row("imports of the engine", s["imports_s"])
    row("embedding model load", s["embedding_model_load_s"])
    row("start-up with the existing index (Assistant())", s["existing_index_startup_s"])
    row(f"index build from scratch ({s['passages']} passages)", s["index_build_s"])
    row("model load (llama.cpp)", s["model_load_s"])
    row(f"prefix restore from state file ({s['prefix_tokens']} tokens)", s["prefix_restore_from_file_s"])
    r = report["retrieval"]
    lines.append("Retrieval (median / p95)")
    for key, label in (("hybrid_s", "hybrid (project)"), ("vector_only_s", "vector only (baseline retriever)")):
        row(label, f"{r[key]['median'] * 1e3:.1f} / {r[key]['p95'] * 1e3:.1f} ms")
    head = "first token med/p95   total med/p95   prompt tok  gen tok"
    lines.append(f"Answering, warm{'':<37}{head}")
    for v, label in (("project", "(a) project"), ("langchain", "(b) LangChain RAG"), ("raw", "(c) raw llama floor")):
        x = report["answer"][v]
        ft, tt = x["first_token_s"], x["total_s"]
        lines.append(
            f"  {label:<46} {ft['median']:7.2f} / {ft['p95']:5.2f} s   {tt['median']:5.2f} / {tt['p95']:5.2f} s"
            f"   {x['prompt_tokens_per_question']:5.0f} @{x['prompt_tokens_per_s']:4.0f}/s"
            f"  {x['gen_tokens_per_question']:4.1f} @{x['gen_tokens_per_s']:4.1f}/s"
        )
    pa = report["answer"]["project"]
    row("(a) questions abstained / retried with narrow context", f"{pa['abstained']} / {pa['retried']}")
    b = report["project_time_breakdown_mean"]
    if b:
        row(
            "(a) mean: retrieve / prompt eval / generate / other",
            " / ".join(f"{b[k]:.2f}" for k in ("retrieve_s", "prompt_eval_s", "generation_s", "other_s")) + " s",
        )
    ra = report["ratios"]
    row("ratio (a)/(b) first token", ra["project_vs_langchain_first_token"], "x")
    row("ratio (a)/(c) first token", ra["project_vs_raw_first_token"], "x")
    mem = report["memory"]
    row("peak RSS of this bench process (model, 2 indexes, plots)", mem["bench_process_bytes"], "GiB")
    lines.append(f"Targets{'':<46} {'measured':>14}   target   met")
    for t in report["targets"]:
        unit = "x" if t["key"].startswith("ratio") else ""
        value = fmt(t["measured"], unit) if unit else ("-" if t["measured"] is None else f"{t['measured']:.2f}")
        lines.append(f"  {t['label']:<52} {value:>14}   {t['target']:<7}  {fmt(t['ok'])}")
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pq = report["per_question"]
    xs = list(range(1, len(pq) + 1))
    fig, axes = plt.subplots(2, 1, figsize=(max(6, 0.45 * len(pq) + 3), 7), sharex=True)
    styles = (("project", "(a) project", "o"), ("langchain", "(b) LangChain RAG", "s"), ("raw", "(c) raw llama", "^"))
    for ax, key, title in ((axes[0], "total_s", "total answer time"), (axes[1], "first_token_s", "first token")):
        for v, label, marker in styles:
            ys = [r[v][key] if r[v] else None for r in pq]
            ax.plot(xs, [y if y is not None else float("nan") for y in ys], marker=marker, label=label)
        ax.set_ylabel("seconds")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].axhline(2.0, color="grey", ls="--", lw=0.8, label="target (a) 2 s")
    axes[1].axhline(1.0, color="grey", ls="--", lw=0.8, label="target (a) 1 s")
    axes[0].legend(fontsize=8)
    axes[1].set_xlabel("question (bench/questions.txt order)")
    axes[1].set_xticks(xs)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "bench.json", help="JSON report path")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_N} questions and one cold start (CI smoke run)")
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    questions = load_questions()
    if args.quick:
        questions = questions[:QUICK_N]
    from assistant.config import Settings

    settings = Settings.from_env(root=ROOT)
    meta = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "n_threads": settings.n_threads,
        "loadavg_start": os.getloadavg()[0],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "engine": engine_version(),
    }
    index_src = settings.index
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp_name:
        tmp = Path(tmp_name)
        cold = cold_starts(index_src, tmp, questions[0], args.quick)
        print("warm measurements in this process ...", flush=True)
        warm = warm_process(questions, tmp)
    meta["loadavg_end"] = os.getloadavg()[0]
    report = build_report(questions, args.quick, cold, warm, meta)

    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    png = out.with_suffix(".png")
    plot(report, png)
    report["plot"] = str(png)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(table(report))
    print(f"Wrote {out} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
