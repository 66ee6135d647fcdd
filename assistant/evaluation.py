"""Regression evaluation: run question sets through the assistant, judge every answer, compute metrics,
compare with an earlier run and write JSON, JUnit XML and a self-contained HTML report.

This module is the public face of the evaluation; the work is split by job, and every name below is
importable from here as before:

- ``assistant.scoring``: the scores of one answer: text normalisation, SQuAD EM/F1, citation and sentence
  support (ALCE), QuAIL option grading. Pure functions.
- ``assistant.metrics``: ``compute_metrics``/``summarize`` over a run's results and the metric names and
  labels, with every metric's definition in its docstring. Pure functions.
- ``assistant.judging``: one answer against its question's expectations (``judge``, ``run_question``); the
  pass rules and statuses are in its docstring.
- ``assistant.reports``: console lines, ``failure_message``, and the JSON, JUnit XML and HTML reports.
- ``assistant.runner``: running sets (``run_sets``), run metadata, thresholds, the baseline comparison and
  ``assistant eval`` (``eval_command``).

Imports run one way: scoring <- judging, metrics <- reports <- runner <- evaluation.
"""

from __future__ import annotations

from .judging import judge, run_question
from .metrics import (
    LABELS,
    METRICS,
    PASSED,
    QUAIL_TYPES,
    RATIO_METRICS,
    SECONDS_METRICS,
    TEXT_BASED_TYPES,
    compute_metrics,
    summarize,
)
from .reports import (
    comparison_lines,
    failure_message,
    summary_lines,
    table_lines,
    write_html,
    write_json,
    write_junit,
    write_reports,
)
from .runner import (
    REPORT_VERSION,
    check_thresholds,
    compare,
    eval_command,
    git_revision,
    load_run,
    parse_threshold,
    prompts_fingerprint,
    run_sets,
)
from .scoring import (
    NOT_ENOUGH_INFORMATION,
    SENTENCE_COVERAGE,
    answer_sentence_support,
    answer_text,
    choose_option,
    citation_support,
    contains_words,
    exact_match,
    f1_score,
    fold,
    judge_option,
    not_enough_information,
    prediction,
    remove_markers,
    sentence_gaps,
    sentence_support,
    sentence_supported,
    squad_normalize,
    squad_scores,
    squad_tokens,
    strip_markers,
)

__all__ = [
    # metrics
    "LABELS",
    "METRICS",
    "NOT_ENOUGH_INFORMATION",
    "PASSED",
    "QUAIL_TYPES",
    "RATIO_METRICS",
    "SECONDS_METRICS",
    "SENTENCE_COVERAGE",
    "TEXT_BASED_TYPES",
    "answer_sentence_support",
    "answer_text",
    "choose_option",
    "citation_support",
    "compute_metrics",
    "contains_words",
    "exact_match",
    "f1_score",
    "fold",
    "judge_option",
    "not_enough_information",
    "prediction",
    "remove_markers",
    "sentence_gaps",
    "sentence_support",
    "sentence_supported",
    "squad_normalize",
    "squad_scores",
    "squad_tokens",
    "strip_markers",
    "summarize",
    # judging
    "judge",
    "run_question",
    # reports
    "comparison_lines",
    "failure_message",
    "summary_lines",
    "table_lines",
    "write_html",
    "write_json",
    "write_junit",
    "write_reports",
    # runner
    "REPORT_VERSION",
    "check_thresholds",
    "compare",
    "eval_command",
    "git_revision",
    "load_run",
    "parse_threshold",
    "prompts_fingerprint",
    "run_sets",
]
