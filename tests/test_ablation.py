"""The ablation arithmetic on recorded signal verdicts (synthetic results, so each number is known)."""

from __future__ import annotations

import json

from assistant.ablation import ablation, curve, write_report


def result(expect_abstain: bool, raw: str, answers: list[str], **signals) -> dict:
    base = {s: None for s in ("injection", "unknown_names", "model_declined", "echo")}
    base |= {"answer_grounded": None, "right_passage": None, "coverage": 1.0}
    base |= signals
    return {"expect_abstain": expect_abstain, "raw": raw, "expected": {"answers": answers}, "signals": base}


RESULTS = [
    result(False, "Paris", ["Paris"]),  # answered right
    result(False, "Lyon", ["Paris"]),  # answered wrong
    result(False, "NOT IN ARTICLE", ["Nice"], model_declined="declined"),  # missed
    result(True, "2011", [], answer_grounded="number 2011 is not in the article"),  # caught by grounding
    result(True, "Azerbaijan", [], unknown_names="FIFA", coverage=0.0),  # caught by its names
]


def test_ablation_rows():
    rows = {r["signals"]: r for r in ablation(RESULTS)}
    full = rows["all (as shipped)"]
    assert full["hasans_accuracy"] == 1 / 3 and full["noans_accuracy"] == 1.0
    assert full["abstention_precision"] == 2 / 3
    assert rows["without answer_grounded"]["noans_accuracy"] == 0.5
    assert rows["without unknown_names"]["noans_accuracy"] == 0.5  # nothing else catches it
    assert rows["none (model answer as is)"]["noans_accuracy"] == 0.0


def test_curve_and_report(tmp_path):
    points = curve(RESULTS, steps=3)
    assert [p["threshold"] for p in points] == [0.0, 0.5, 1.0]
    assert points[0]["noans_accuracy"] == 1.0  # the FIFA question is still caught by its names
    assert points[-1]["noans_accuracy"] == 1.0 and points[-1]["hasans_accuracy"] == 1 / 3  # coverage 1.0: kept
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"results": [dict(r, error=None) for r in RESULTS]}))
    md = write_report(path)
    assert "without unknown_names" in md.read_text() and "term_coverage" not in md.read_text()
    assert (tmp_path / "abstention_curve.png").stat().st_size > 1000


def test_report_for_a_set_without_unanswerable_questions(tmp_path):
    """No NoAns question: recall is undefined at every threshold; the report says so instead of crashing."""
    answerable = [r for r in RESULTS if not r["expect_abstain"]]
    assert all(p["abstention_recall"] is None for p in curve(answerable))
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"results": answerable}))
    table = write_report(path).read_text()
    assert "| none (model answer as is) | 33.3 % | — | — | — |" in table  # Paris right; Lyon, NOT wrong
    assert (tmp_path / "abstention_curve.png").stat().st_size > 1000
