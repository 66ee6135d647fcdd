"""Many readers at once through the real chat page: every answer right and unmixed, and how long each waited.

    python -m bench.crowd                     # 20 users x 5 reader questions (~6 min on 2 CPUs)
    python -m bench.crowd --users 3 --questions 1 --out reports/bench/crowd.json

Starts ``assistant ui`` (the embedded model, a private copy of the index) on 127.0.0.1. The questions are
``tests/questions/reader.yaml``'s stand-alone ones that are not marked ``known_failure``. Each is first asked
alone (its reference answer); then every user, a gradio_client session of its own, asks its questions one after
another through ``/ask`` (the page's own steps: its line, the engine, its conversation state), all users at once,
each question in a new conversation. An answer is *right* when the set's judging passes it and *unmixed* when
it is the reference answer to the same question, word for word (greedy decoding gives one answer per question).
The wait is the page's own measure (``waited_s``: in line until the model is free); the total is the client's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

READER = ROOT / "tests" / "questions" / "reader.yaml"


def pool(n: int):
    """``n`` stand-alone reader questions the assistant is expected to get right, evenly spaced in the set."""
    from assistant.questionsets import load_question_set

    eligible = [q for q in load_question_set(READER).questions if not q.known_failure and not q.history]
    return eligible[:: max(1, len(eligible) // n)][:n]  # spread over the set's kinds, not its first section


def _judge(q, result: dict) -> bool:
    from assistant.judging import judge
    from assistant.schema import Answer

    answer = Answer.model_validate(result["answer"]) if result.get("answer") else None
    reasons = type("D", (), {"reasons": result.get("reasons", []), "hits": []})()
    return judge(q, answer, reasons, "reader", result.get("error"))["passed"]


def crowd(url: str, questions: list, users: int, per_user: int) -> dict:
    """References one by one, then ``users`` sessions at once; per-request waits, totals and verdicts."""
    from gradio_client import Client

    solo = Client(url, verbose=False, download_files=False)
    reference, alone = {}, []
    for q in questions:
        t = time.perf_counter()
        reference[q.id] = solo.predict(q.question, True, "", api_name="/ask")
        alone.append(time.perf_counter() - t)
    clients = [Client(url, verbose=False, download_files=False) for _ in range(users)]
    gate = threading.Barrier(users)
    rows: list[dict] = []
    errors: list[str] = []

    def user(i: int) -> None:
        gate.wait(timeout=120)
        for j in range(per_user):
            q = questions[(i * per_user + j) % len(questions)]
            t = time.perf_counter()
            try:
                got = clients[i].predict(q.question, True, "", api_name="/ask")
            except Exception as exc:  # noqa: BLE001 - counted, reported
                errors.append(f"user {i} question {q.id}: {type(exc).__name__}: {exc}")
                continue
            rows.append({
                "user": i, "question": q.id, "asked": got.get("question"), "total_s": time.perf_counter() - t,
                "waited_s": got.get("waited_s"), "error": got.get("error"), "text": got.get("text"),
                "unmixed": got.get("question") == q.question and got.get("text") == reference[q.id]["text"],
                "right": _judge(q, got),
            })  # fmt: skip

    t0 = time.perf_counter()
    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=3600)
    wall = time.perf_counter() - t0
    waits = [r["waited_s"] for r in rows if r["waited_s"] is not None]
    totals = [r["total_s"] for r in rows]
    ref_right = {q.id: _judge(q, reference[q.id]) for q in questions}
    return {
        "users": users,
        "questions_per_user": per_user,
        "distinct_questions": len(questions),
        "requests": users * per_user,
        "answered": len(rows),
        "errors": errors,
        "right": sum(r["right"] for r in rows),
        "unmixed": sum(r["unmixed"] for r in rows),
        "reference_right": sum(ref_right.values()),
        "wall_s": wall,
        "answers_per_min": 60 * len(rows) / wall if wall else None,
        "wait_median_s": statistics.median(waits) if waits else None,
        "wait_max_s": max(waits) if waits else None,
        "total_median_s": statistics.median(totals) if totals else None,
        "total_max_s": max(totals) if totals else None,
        "alone_total_median_s": statistics.median(alone) if alone else None,
        "mixed_or_wrong": [r for r in rows if not (r["right"] and r["unmixed"])],
        "rows": rows,
    }


def run(users: int, per_user: int, index_src: Path, tmp: Path) -> dict:
    """Start the chat page on a copy of the index, run the crowd, stop the page."""
    from tests.servers import chat_page, page_ready

    index = tmp / "index-crowd"
    if index_src.is_dir():
        shutil.copytree(index_src, index)
    questions = pool(max(1, min(25, users * per_user)))
    page = page_ready(chat_page(tmp, {"ASSISTANT_ROOT": str(ROOT), "ASSISTANT_INDEX_DIR": str(index)}))
    try:
        return crowd(page.url, questions, users, per_user)
    finally:
        page.stop()


def summary_lines(c: dict) -> list[str]:
    return [
        f"{c['users']} users x {c['questions_per_user']} reader questions at once through the chat page "
        f"({c['distinct_questions']} distinct questions; {c['answered']}/{c['requests']} answered, "
        f"{len(c['errors'])} errors)",
        f"  right {c['right']}/{c['answered']} (alone: {c['reference_right']}/{c['distinct_questions']}), "
        f"unmixed {c['unmixed']}/{c['answered']}",
        f"  wait in line median / max {c['wait_median_s'] or 0:.1f} / {c['wait_max_s'] or 0:.1f} s; "
        f"question -> full answer median / max {c['total_median_s'] or 0:.1f} / {c['total_max_s'] or 0:.1f} s; "
        f"{c['answers_per_min'] or 0:.1f} answers/min",
        f"  one user alone: {c['alone_total_median_s'] or 0:.1f} s an answer (median)",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--questions", type=int, default=5, help="questions per user")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "crowd.json")
    args = ap.parse_args(argv)
    from assistant.config import Settings

    with tempfile.TemporaryDirectory(prefix="crowd-") as tmp:
        result = run(args.users, args.questions, Settings.from_env(root=ROOT).index, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print("\n".join(summary_lines(result)))
    return 0 if not result["errors"] and not result["mixed_or_wrong"] else 1


if __name__ == "__main__":
    sys.exit(main())
