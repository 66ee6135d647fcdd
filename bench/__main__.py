"""Benchmark the assistant in one run: cold start, index, retrieval, answering vs. two baselines, memory.

    python -m bench                 # all questions, every cold-start measurement (~10 min on 2 CPUs)
    python -m bench --quick         # 3 questions, one cold start: a smoke run for CI
    python -m bench --out DIR/x.json
    python -m bench --no-crowd      # without the 20-user run, e.g. to compare a setting (ASSISTANT_...=...)

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

Then ``crowd``: 20 users x 5 reader questions at once through the real chat page (2 x 1 with ``--quick``): every
answer right and unmixed, and the median and maximum wait in line.

The parts: ``cold`` (fresh processes), ``warm`` (one process, the three systems), ``crowd`` (the chat page under
load), ``report`` (figures, targets, table, plot), ``common`` (shared helpers); ``scale`` and ``readers`` are
separate runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from . import crowd
from .cold import cold_starts
from .common import ROOT, engine_version, load_questions
from .report import build_report, plot, table
from .warm import warm_process

QUICK_N = 3
CROWD = (20, 5)  # users at once x reader questions each, through the chat page
QUICK_CROWD = (2, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "bench.json", help="JSON report path")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_N} questions and one cold start (CI smoke run)")
    parser.add_argument("--no-crowd", action="store_true", help="skip the 20-user run (to compare a setting's speed)")
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
        users, per_user = QUICK_CROWD if args.quick else CROWD
        many = None
        if not args.no_crowd:
            print(f"{users} users x {per_user} reader questions at once through the chat page ...", flush=True)
            many = crowd.run(users, per_user, index_src, tmp)
    meta["loadavg_end"] = os.getloadavg()[0]
    report = build_report(questions, args.quick, cold, warm, meta, many)

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
