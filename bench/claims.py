"""What the claim check costs an answer: ``python -m bench.claims RESULTS.json [--out reports/claims.json]``.

RESULTS is an ``assistant eval`` run (its answers, their cited sentences and each answer's total time, all from
one run of the real pipeline). For every answered question the check (``claims.unpaired``) is run again on each
sentence against its cited sentences, with spaCy's parse cache emptied first, and its time is set beside that
answer's total. The pipeline is loaded before timing (once per process, as ``Assistant.warm`` does).
Target (issue 22): the check adds at most 0.3 s to the median answer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant import claims  # noqa: E402
from bench.common import emit  # noqa: E402

TARGET_S = 0.3


def measure(results: list[dict]) -> dict:
    claims.parser()
    added, totals = [], []
    for r in results:
        if r.get("abstained") or not r.get("sentence_support"):
            continue
        quotes = {c["n"]: c["quote"] for c in r["citations"]}
        question = r.get("standalone") or r["question"]
        claims._parse.cache_clear()
        t0 = time.perf_counter()
        for s in r["sentence_support"]:
            claims.unpaired(s["text"], [quotes[n] for n in s["citations"] if n in quotes], question)
        added.append(time.perf_counter() - t0)
        totals.append(r["timings"]["total_s"])
    median_added = statistics.median(added)
    return {
        "answers": len(added),
        "check_s": {"median": median_added, "p90": statistics.quantiles(added, n=10)[-1], "max": max(added)},
        "answer_total_s_median": statistics.median(totals),
        "share_of_median_answer": median_added / statistics.median(totals),
        "target_s": TARGET_S,
        "meets_target": median_added <= TARGET_S,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    emit(measure(json.loads(args.results.read_text())["results"]), args.out)


if __name__ == "__main__":
    main()
