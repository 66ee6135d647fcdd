"""What adding an article costs: ``python -m bench.adding [--many 50] [--out reports/adding.json]``.

In a temporary copy of the seeds, one process (the real Assistant, warmed as the page warms it):

1. a ~600-word article (the first text of the SQuAD calibration file, as pasted text) is added and its first
   question answered: seconds from ``add`` until that answer, with the time of each progress line;
2. a second question on it, and a second question on the seed (its first one makes the seed's state), each
   timed: their ratio; then the added article again, after the seed (its state restored from its file);

then ``--many`` more articles (the next calibration texts) are added through ``library.add`` and indexed once,
and fresh processes measure start-up (``Assistant.startup_s``) and peak memory with the seed alone and with all
of them: their difference. Targets (issue 23): add → first answer ≤ 20 s; the second question as fast as on the
seed; 50 added articles keep start-up under 5 s and memory within 0.5 GiB. Timings are noisy on shared CPUs:
compare within this run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import emit  # noqa: E402

CALIB = ROOT.parent / "shared" / "eval" / "squad2_calib_600w.jsonl"
STARTUP = """
import json, sys, time
t0 = time.perf_counter()
from assistant.answering import Assistant
from assistant.config import Settings
a = Assistant(Settings.from_env())
started = time.perf_counter() - t0
a.chat  # the model fully loaded (it loads in the background), so both starts are measured at the same point
# VmHWM, not ru_maxrss: a child's ru_maxrss keeps the parent's size at fork (this benchmark's parent holds a model)
hwm_kib = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"startup_s": a.startup_s, "import_and_start_s": started,
                  "peak_rss_gib": hwm_kib / 2**20,
                  "articles": len(a.documents)}))
"""


def _texts(n: int) -> list[dict]:
    with open(CALIB, encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(n), f, strict=False)]


def _start(root: Path) -> dict:
    env = {**os.environ, "ASSISTANT_ROOT": str(root), "ASSISTANT_INDEX_DIR": str(root / "index")}
    out = subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(many: int) -> dict:
    from assistant import library
    from assistant.answering import Assistant
    from assistant.config import Settings

    texts = _texts(many + 1)
    first = texts[0]
    question = next(q for q in first["qas"] if q.get("answers"))["question"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "seeds").mkdir()
        shutil.copy(ROOT / "seeds" / "azerbaijan-syria.txt", root / "seeds")
        settings = Settings.from_env(root=root, index_dir=root / "index")
        seed_start = _start(root)
        assistant = Assistant(settings)
        assistant.warm_all()
        steps: list[tuple[float, str]] = []
        t0 = time.perf_counter()
        def note(line: str) -> None:
            steps.append((time.perf_counter() - t0, line))

        article = assistant.add(f"{first['title']}\n\n{first['context']}", progress=note)
        got = assistant.answer(question, source=article.name)
        to_first = time.perf_counter() - t0
        second_q = next(q for q in first["qas"][1:] if q.get("answers"))["question"]
        t = time.perf_counter()
        assistant.answer(second_q, source=article.name)
        second_s = time.perf_counter() - t
        assistant.answer("Who is Ahmad Al-Sharaa?", source="azerbaijan-syria.txt")  # the seed's state, as above
        t = time.perf_counter()
        assistant.answer("Who led the Azerbaijani delegation?", source="azerbaijan-syria.txt")
        seed_s = time.perf_counter() - t
        t = time.perf_counter()
        assistant.answer(second_q, source=article.name)  # and back: the added article's state comes from disk
        back_s = time.perf_counter() - t
        for text in texts[1:]:
            library.add(f"{text['title']}\n\n{text['context']}", settings)
        assistant.load_corpus()  # one index update for all of them
        many_start = _start(root)
        return {
            "article_words": len(first["context"].split()),
            "add_to_first_answer_s": to_first,
            "progress": [{"at_s": round(at, 2), "line": line} for at, line in steps],
            "first_answer": got.text,
            "second_question_s": second_s,
            "seed_question_s": seed_s,
            "second_over_seed": second_s / seed_s,
            "back_to_it_after_the_seed_s": back_s,
            "start_seed_only": seed_start,
            f"start_with_{many}_added": many_start,
            "startup_added_s": many_start["startup_s"] - seed_start["startup_s"],
            "memory_added_gib": many_start["peak_rss_gib"] - seed_start["peak_rss_gib"],
            "targets": {"add_to_first_answer_s": 20, "startup_s": 5, "memory_added_gib": 0.5},
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--many", type=int, default=50)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    emit(run(args.many), args.out)


if __name__ == "__main__":
    main()
