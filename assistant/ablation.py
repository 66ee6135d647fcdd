"""What each abstention signal buys: an ablation table and a precision/recall curve, from ONE evaluation run.

Run ``assistant eval --ablation`` (or set ``ASSISTANT_CHECK_ALL=1``): the engine then asks the
model for every question and records every signal's verdict (``results[i]["signals"]``), not only the first
that failed. Switching a signal off is then exact arithmetic on the recorded verdicts: the assistant abstains
when any *other* signal failed, and otherwise gives the model's answer, which is scored like any answer.
(Switching off the retry cannot be replayed this way; it has its own setting, ``ASSISTANT_RETRY_K=0``.)

The curve adds a rule the assistant does not ship: declining when less than a share of the question's terms occur
in the sources, that share varied from 0 to 1 over the recorded coverage of each question (``checks.term_coverage``).
It shows what such a word rule would buy and cost on a set.
"""

from __future__ import annotations

import json
from pathlib import Path

from .checks import NAMES as SIGNALS
from .scoring import choose_option, squad_normalize


def _answered_correctly(r: dict) -> bool:
    """SQuAD HasAns accuracy on the model's answer, the QuAIL option it picks, or the set's must_include check."""
    if r.get("quail"):
        return choose_option(r["raw"] or "", r["expected"]["options"]) == r["quail"]["gold"]
    pred = squad_normalize(r["raw"] or "")
    if r["expected"].get("answers"):
        return any(squad_normalize(g) and squad_normalize(g) in pred for g in r["expected"]["answers"])
    groups = r["expected"].get("must_include") or []
    low = (r["raw"] or "").lower()
    return bool(groups) and all(any(alt.lower() in low for alt in g) for g in groups)


def _score(results: list[dict], off: set[str], threshold: float | None = None) -> dict:
    has = no = has_ok = no_ok = abst = abst_ok = 0
    for r in results:
        sig = r["signals"]
        failed = any(sig.get(s) for s in SIGNALS if s not in off)
        if threshold is not None:
            failed |= float(sig.get("coverage", 1.0)) < threshold
        if r["expect_abstain"]:
            no += 1
            no_ok += failed
        else:
            has += 1
            has_ok += (not failed) and _answered_correctly(r)
        abst += failed
        abst_ok += failed and r["expect_abstain"]
    return {
        "hasans_accuracy": has_ok / has if has else None,
        "noans_accuracy": no_ok / no if no else None,
        "abstention_precision": abst_ok / abst if abst else None,
        "abstention_recall": no_ok / no if no else None,
        "n": len(results),
    }


def ablation(results: list[dict]) -> list[dict]:
    rows = [{"signals": "all (as shipped)", **_score(results, set())}]
    for s in SIGNALS:
        rows.append({"signals": f"without {s}", **_score(results, {s})})
    rows.append({"signals": "none (model answer as is)", **_score(results, set(SIGNALS))})
    return rows


def curve(results: list[dict], steps: int = 21) -> list[dict]:
    return [{"threshold": i / (steps - 1), **_score(results, set(), i / (steps - 1))} for i in range(steps)]


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f} %"


def markdown(rows: list[dict]) -> str:
    out = [
        "| signals | HasAns accuracy | NoAns accuracy | abstention precision | abstention recall |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['signals']} | {_pct(r['hasans_accuracy'])} | {_pct(r['noans_accuracy'])} "
            f"| {_pct(r['abstention_precision'])} | {_pct(r['abstention_recall'])} |"
        )
    return "\n".join(out)


def plot(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A set without unanswerable questions has no recall, one where nothing was declined no precision.
    pts = [p for p in points if p["abstention_precision"] is not None and p["abstention_recall"] is not None]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot([p["abstention_recall"] for p in pts], [p["abstention_precision"] for p in pts], "o-", ms=3)
    for p in pts[:: max(1, len(pts) // 7)]:
        ax.annotate(f"{p['threshold']:.2f}", (p["abstention_recall"], p["abstention_precision"]), fontsize=7)
    if not pts:
        ax.text(0.5, 0.5, "no threshold gives both precision and recall", ha="center", transform=ax.transAxes)
    ax.set_xlabel("abstention recall (unanswerable questions declined)")
    ax.set_ylabel("abstention precision (declines that were right)")
    ax.set_title("Abstention if questions with low term coverage were declined")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(results_json: Path) -> Path:
    """Write ablation.md, ablation.json and abstention_curve.png next to ``results.json``."""
    data = json.loads(Path(results_json).read_text(encoding="utf-8"))
    results = [r for r in data["results"] if r.get("signals") and not r.get("error")]
    if not results:
        raise ValueError(f"{results_json} has no recorded signals: run the evaluation with --ablation.")
    out = Path(results_json).parent
    rows, points = ablation(results), curve(results)
    (out / "ablation.json").write_text(json.dumps({"ablation": rows, "curve": points}, indent=2))
    (out / "ablation.md").write_text(markdown(rows) + "\n")
    plot(points, out / "abstention_curve.png")
    return out / "ablation.md"


def main(argv: list[str] | None = None) -> None:
    """``python -m assistant.ablation reports/eval-X/results.json``"""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        raise SystemExit(main.__doc__)
    path = write_report(Path(args[0]))
    print(path.read_text())
    print(f"Curve: {path.parent / 'abstention_curve.png'}")


if __name__ == "__main__":
    main()
