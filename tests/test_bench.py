"""``python -m bench --quick`` runs end to end and writes a complete report (speed targets are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.llm


def _positive(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def test_quick_bench_writes_report(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Targets" in proc.stdout and "(a)/(c) median total time" in proc.stdout
    report = json.loads(out.read_text())
    assert (tmp_path / "bench.png").stat().st_size > 0

    for key in ("meta", "cold_start", "startup", "retrieval", "answer", "ratios", "memory", "targets", "crowd",
                "per_question"):  # fmt: skip
        assert key in report, key
    assert report["meta"]["quick"] is True and report["meta"]["questions"] == 3

    cold = report["cold_start"]["with_saved_state"]
    for key in ("first_answer_s", "first_token_s", "assistant_s", "model_load_s", "peak_rss_bytes"):
        assert _positive(cold[key]), key
    assert cold["warm"] in {"loaded", "evaluated"} and cold["index_built"] is False

    startup = report["startup"]
    for key in ("embedding_model_load_s", "existing_index_startup_s", "index_build_s", "model_load_s"):
        assert _positive(startup[key]), key
    assert startup["index_build_rebuilt"] is True and startup["existing_index_was_rebuilt"] is False

    for key in ("hybrid_s", "vector_only_s"):
        assert _positive(report["retrieval"][key]["median"]) and _positive(report["retrieval"][key]["p95"])

    for variant in ("project", "langchain", "raw"):
        stats = report["answer"][variant]
        for key in ("first_token_s", "total_s"):
            assert _positive(stats[key]["median"]) and _positive(stats[key]["p95"]), (variant, key)
        assert _positive(stats["prompt_tokens_per_s"]) and _positive(stats["gen_tokens_per_s"]), variant

    for key in ("project_vs_langchain_total", "project_vs_raw_total"):
        assert _positive(report["ratios"][key]), key
    assert _positive(report["memory"]["bench_process_bytes"])

    assert {t["key"] for t in report["targets"]} >= {"ratio_project_vs_raw", "peak_rss_gib", "restart_first_answer_s"}
    assert all(_positive(t["measured"]) for t in report["targets"])

    many = report["crowd"]
    assert (many["users"], many["requests"], many["answered"], many["errors"]) == (2, 2, 2, [])
    assert many["unmixed"] == 2 and many["right"] == many["reference_right"], many["mixed_or_wrong"]
    assert _positive(many["total_median_s"]) and many["wait_max_s"] >= 0

    assert len(report["per_question"]) == 3
    for row in report["per_question"]:
        project = row["project"]
        assert project["raw_tokens"] > 0, row["question"]  # the model was asked, so the floor (c) ran too
        assert row["raw"]["requested_tokens"] == max(project["raw_tokens"], project["gen_tokens"]) + 1
