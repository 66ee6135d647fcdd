"""Regression evaluation: run question sets through the assistant, judge every answer, compute metrics,
compare with an earlier run and write JSON, JUnit XML and a self-contained HTML report.

Every question goes through ``Assistant.stream`` (the same path as ``answer()``, which also yields the
retrieval ``Decision``). A question PASSES when all of its expectations hold:

- ``expect_abstain: true``: the assistant abstained.
- otherwise (an answerable question): the assistant answered, and
  - ``must_include``: every group has an alternative that occurs in the answer (case-insensitive substring,
    apostrophes and whitespace normalised, citation markers removed);
  - ``cite``: at least one cited span contains one of the ``cite`` texts (same normalisation);
  - SQuAD gold answers: some SQuAD-normalised gold answer occurs, as whole words, in the SQuAD-normalised
    answer;
  - ``reference`` (judged only when the question has neither ``must_include`` nor gold answers): the
    normalised reference occurs in the normalised answer, or their SQuAD token F1 is at least 0.5.

Statuses: PASS, FAIL, ERROR (the question raised an error), XFAIL (``known_failure`` and it failed, as
expected), XPASS (``known_failure`` but it passed: strict, so it counts as a problem to look at).

Metrics (fractions in [0, 1], ``None`` when nothing was there to measure; see ``compute_metrics``):

- ``pass_rate``: passed questions / all questions (known failures count as failed).
- ``answer_accuracy``: answerable questions (no ``expect_abstain: true``; SQuAD HasAns) that passed /
  answerable questions.
- ``abstention_precision``: questions where it abstained and should have / questions where it abstained.
- ``abstention_recall``: questions where it abstained and should have / questions where it should have.
- ``citation_recall`` (ALCE, computed locally): over the answers given (not abstained), the share whose
  answer is *supported* by the union of its cited spans. Rule: the answer (markers removed) is supported
  by a set of spans when every content word of it (``text.content_words``: stop words and question
  words dropped, numbers kept) occurs in those spans as the same word, the same crude stem (plural/tense)
  or the same number ("twelve" = "12"). An answer without citations or without content words is unsupported.
- ``citation_precision`` (ALCE): over all citations of the answers given, the share that are *relevant*:
  the answer is supported by the union of all its citations, and either this citation alone supports it
  or removing it from the set breaks the support (it is needed).
- ``retrieval_recall_at_k``: over questions with a target (a ``cite`` text, or SQuAD gold answers), the
  share whose retrieved passages (``Decision.hits``, k = settings.k) contain the target in one passage
  (cite: normalised substring; gold: SQuAD-normalised whole words).
- ``latency_median_s`` / ``latency_p95_s``: median and 95th percentile (nearest rank) of
  ``Answer.timings["total_s"]``, in seconds, over the questions that were answered or abstained.
- ``reference_f1``: mean SQuAD token F1 of the answer against ``reference`` (answerable YAML questions with a
  reference; an abstention predicts "").
- SQuAD sets, with the official SQuAD 2.0 definitions: ``squad_exact`` and ``squad_f1`` (max over the gold
  answers; an unanswerable question's only gold answer is ""), also split into ``squad_hasans_*`` and
  ``squad_noans_*``. The prediction is the answer text with the trailing " [n]." markers stripped, or ""
  when the assistant abstained. Normalisation: lowercase, remove punctuation, remove the articles a/an/the,
  collapse whitespace. ``squad_hasans_accuracy``: HasAns questions where it did not abstain and some
  normalised gold answer occurs in the normalised prediction (the pass rule above).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import platform
import re
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import click
from tqdm import tqdm

from .config import Settings
from .questionsets import Question, QuestionSet, load_question_set
from .schema import Answer, AssistantError, ModelUnavailableError
from .text import Vocabulary, content_words

REPORT_VERSION = 1
PASSED = {"PASS", "XPASS"}
RATIO_METRICS = (
    "pass_rate",
    "answer_accuracy",
    "abstention_precision",
    "abstention_recall",
    "citation_precision",
    "citation_recall",
    "retrieval_recall_at_k",
    "reference_f1",
    "squad_exact",
    "squad_f1",
    "squad_hasans_exact",
    "squad_hasans_f1",
    "squad_hasans_accuracy",
    "squad_noans_exact",
    "squad_noans_f1",
)
SECONDS_METRICS = ("latency_median_s", "latency_p95_s")
METRICS = RATIO_METRICS + SECONDS_METRICS
LABELS = {
    "pass_rate": "pass rate",
    "answer_accuracy": "answer accuracy (answerable)",
    "abstention_precision": "abstention precision",
    "abstention_recall": "abstention recall",
    "citation_precision": "citation precision (ALCE)",
    "citation_recall": "citation recall (ALCE)",
    "retrieval_recall_at_k": "retrieval recall@k",
    "reference_f1": "reference F1",
    "squad_exact": "SQuAD EM",
    "squad_f1": "SQuAD F1",
    "squad_hasans_exact": "SQuAD HasAns EM",
    "squad_hasans_f1": "SQuAD HasAns F1",
    "squad_hasans_accuracy": "SQuAD HasAns accuracy",
    "squad_noans_exact": "SQuAD NoAns EM",
    "squad_noans_f1": "SQuAD NoAns F1",
    "latency_median_s": "latency median (s)",
    "latency_p95_s": "latency p95 (s)",
}


# -- text normalisation -----------------------------------------------------------------------------------

_MARKERS_AT_END = re.compile(r"(?:\s*\[\d+\])+\s*\.?\s*$")
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def strip_markers(text: str) -> str:
    """``"Deputy Prime Minister Samir Sharifov [1]."`` -> ``"Deputy Prime Minister Samir Sharifov"``."""
    return _MARKERS_AT_END.sub("", text).strip()


def prediction(answer: Answer | None) -> str:
    """The short answer judged by the metrics: markers stripped; "" for an abstention (or no answer)."""
    if answer is None or answer.abstained:
        return ""
    return strip_markers(answer.text)


def fold(text: str) -> str:
    """Case-, apostrophe-, dash- and whitespace-insensitive form for substring checks."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"}))
    return " ".join(text.split()).casefold()


def squad_normalize(s: str) -> str:
    """The official SQuAD normalisation: lowercase, drop punctuation and articles, collapse whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def squad_tokens(s: str) -> list[str]:
    return squad_normalize(s).split() if s else []


def exact_match(pred: str, gold: str) -> int:
    return int(squad_normalize(pred) == squad_normalize(gold))


def f1_score(pred: str, gold: str) -> float:
    """Official SQuAD token F1; when either side is empty, 1 if both are, else 0."""
    gold_toks, pred_toks = squad_tokens(gold), squad_tokens(pred)
    if not gold_toks or not pred_toks:
        return float(gold_toks == pred_toks)
    same = sum((Counter(gold_toks) & Counter(pred_toks)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_toks), same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def squad_scores(pred: str, golds: list[str]) -> tuple[int, float]:
    """(EM, F1), each the maximum over the gold answers; no gold answers means the gold is ""."""
    golds = [g for g in golds if squad_normalize(g)] or [""]
    return max(exact_match(pred, g) for g in golds), max(f1_score(pred, g) for g in golds)


def contains_words(haystack: str, needle: str) -> bool:
    """Whether the SQuAD-normalised needle occurs as whole words in the SQuAD-normalised haystack."""
    n = squad_normalize(needle)
    return bool(n) and f" {n} " in f" {squad_normalize(haystack)} "


# -- judging one answer -------------------------------------------------------------------------------------


def _supports(terms: list[str], quotes: list[str]) -> bool:
    if not terms or not quotes:
        return False
    vocab = Vocabulary(" ".join(quotes))
    return all(vocab.has(t, fuzzy=False) for t in terms)


def citation_support(pred: str, quotes: list[str]) -> dict:
    """ALCE-style support of one answer by its cited spans (the rule is in the module docstring)."""
    terms = list(dict.fromkeys(content_words(pred)))
    union = Vocabulary(" ".join(quotes)) if quotes else None
    missing = [t for t in terms if union is None or not union.has(t, fuzzy=False)]
    supported = _supports(terms, quotes)
    relevant = []
    for i, quote in enumerate(quotes):
        rest = quotes[:i] + quotes[i + 1 :]
        relevant.append(supported and (_supports(terms, [quote]) or not _supports(terms, rest)))
    return {"supported": supported, "relevant": relevant, "unsupported_words": missing}


def _check(name: str, ok: bool, detail: str = "") -> dict:
    return {"name": name, "ok": bool(ok), "detail": "" if ok else detail}


def _alts(items: Iterable[str]) -> str:
    return " or ".join(repr(a) for a in items)


def judge(
    q: Question,
    answer: Answer | None,
    decision=None,
    set_name: str = "",
    error: str | None = None,
) -> dict:
    """The JSON-ready result of one question: the answer, its checks, verdict and per-question measures.

    ``decision`` is duck-typed (``standalone``, ``reasons``, ``hits`` with ``passage``/``score``/
    ``similarity``) so that tests can pass a simple namespace.
    """
    pred = prediction(answer)
    abstained = bool(answer.abstained) if answer is not None else False
    reasons = list(getattr(decision, "reasons", []) or [])
    hits = list(getattr(decision, "hits", []) or [])
    citations = list(answer.citations) if answer is not None else []
    quotes = [c.quote for c in citations]
    checks: list[dict] = []
    if error is not None or answer is None:
        checks.append(_check("error", False, f"error: {error or 'no answer was produced'}"))
    elif q.expect_abstain:
        checks.append(_check("abstain", abstained, "expected an abstention, but it answered"))
    else:
        why = "; ".join(reasons) or "no reason given"
        checks.append(_check("answered", not abstained, f"abstained ({why})"))
        if not abstained:
            text = fold(pred)
            for group in q.must_include:
                ok = any(fold(a) in text for a in group)
                checks.append(_check("must_include", ok, f"answer lacks {_alts(group)}"))
            if q.cite:
                ok = any(fold(c) in fold(quote) for c in q.cite for quote in quotes)
                checks.append(_check("cite", ok, f"no cited span contains {_alts(q.cite)}"))
            if q.answers:
                ok = any(contains_words(pred, g) for g in q.answers)
                checks.append(_check("gold", ok, f"answer contains no gold answer ({_alts(q.answers[:4])})"))
            elif q.reference and not q.must_include:
                ok = contains_words(pred, q.reference) or f1_score(pred, q.reference) >= 0.5
                checks.append(_check("reference", ok, f"answer does not match the reference {q.reference!r}"))
    passed = all(c["ok"] for c in checks)
    if error is not None or answer is None:
        status = "ERROR"
    elif q.known_failure:
        status = "XPASS" if passed else "XFAIL"
    else:
        status = "PASS" if passed else "FAIL"
    # retrieval: did one retrieved passage contain the target?
    texts = [getattr(h.passage, "text", "") for h in hits]
    if q.answers:
        retrieval_hit = any(contains_words(t, g) for t in texts for g in q.answers)
    elif q.cite:
        retrieval_hit = any(fold(c) in fold(t) for t in texts for c in q.cite)
    else:
        retrieval_hit = None
    squad = None
    if q.context is not None:  # a SQuAD question
        em, f1 = squad_scores(pred, q.answers)
        squad = {"exact": em, "f1": f1, "has_answer": bool(q.answers)}
    return {
        "key": f"{set_name}::{q.id}",
        "set": set_name,
        "id": q.id,
        "line": q.line,
        "question": q.question,
        "history": [list(t) for t in q.history],
        "tags": q.tags,
        "known_failure": q.known_failure,
        "expect_abstain": bool(q.expect_abstain),
        "expected": {
            "must_include": q.must_include,
            "cite": q.cite,
            "reference": q.reference,
            "answers": q.answers,
        },
        "answer": answer.text if answer is not None else "",
        "prediction": pred,
        "abstained": abstained,
        "citations": [c.model_dump() for c in citations],
        "model": answer.model if answer is not None else "",
        "timings": dict(answer.timings) if answer is not None else {},
        "standalone": getattr(decision, "standalone", "") or "",
        "reasons": reasons,
        "raw": getattr(decision, "raw", "") or "",
        "verify_raw": getattr(decision, "verify_raw", "") or "",  # the reply over the cited sentences alone
        "signals": dict(getattr(decision, "signals", {}) or {}),
        "hits": [
            {
                "source": h.passage.source,
                "start": h.passage.start,
                "end": h.passage.end,
                "score": round(float(h.score), 6),
                "similarity": round(float(h.similarity), 4),
            }
            for h in hits
        ],
        "error": error,
        "checks": checks,
        "passed": passed,
        "status": status,
        "why": "; ".join(c["detail"] for c in checks if not c["ok"]),
        "citation_support": None if abstained or answer is None else citation_support(pred, quotes),
        "retrieval_hit": retrieval_hit,
        "squad": squad,
        "reference_f1": f1_score(pred, q.reference) if q.reference and not q.expect_abstain else None,
    }


def run_question(assistant, q: Question, set_name: str = "") -> dict:
    """Ask one question (with its history) and judge the answer; user-fixable errors are recorded."""
    answer = decision = None
    error = None
    try:
        for kind, value in assistant.stream(q.question, q.history or None):
            if kind == "decision":
                decision = value
            elif kind == "answer":
                answer = value
    except ModelUnavailableError:
        raise
    except AssistantError as exc:
        error = str(exc)
    except Exception as exc:  # recorded, so that one broken question does not lose a long run
        error = f"{type(exc).__name__}: {exc}"
    return judge(q, answer, decision, set_name, error)


def failure_message(r: dict) -> str:
    """A readable account of one result, for pytest failures and the console."""
    lines = [f"{r['status']}: {r['set']}::{r['id']}  {r['why']}".rstrip()]
    for u, a in r["history"]:
        lines.append(f"  history   user: {u}\n            assistant: {a}")
    lines.append(f"  question  {r['question']}")
    if r["standalone"] and r["standalone"] != r["question"]:
        lines.append(f"  rewritten {r['standalone']}")
    exp = r["expected"]
    want = "an abstention" if r["expect_abstain"] else "an answer"
    for key in ("must_include", "cite", "reference", "answers"):
        if exp.get(key):
            want += f"; {key}={exp[key]!r}"
    lines.append(f"  expected  {want}")
    lines.append(f"  answer    {r['answer']!r}" + (f"  (model wrote {r['raw']!r})" if r["raw"] else ""))
    if r["reasons"]:
        lines.append(f"  reasons   {'; '.join(r['reasons'])}")
    for c in r["citations"]:
        lines.append(f"  [{c['n']}] {c['source']}:{c['start']}-{c['end']} {c['quote']!r}")
    if r["error"]:
        lines.append(f"  error     {r['error']}")
    return "\n".join(lines)


# -- metrics ------------------------------------------------------------------------------------------------


def _percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def compute_metrics(results: list[dict]) -> dict:
    """``{"metrics": {name: value or None}, "counts": {...}, "fractions": {name: [numerator, denominator]}}``.

    The definitions are in this module's docstring. Every ratio is numerator / denominator, with None when
    the denominator is 0; ``fractions`` keeps both numbers for the report.
    """
    fractions: dict[str, list[float]] = {}
    metrics: dict[str, float | None] = {}

    def ratio(name: str, num: float, den: float) -> None:
        fractions[name] = [num, den]
        metrics[name] = (num / den) if den else None

    n = len(results)
    passed = [r for r in results if r["passed"] and r["status"] != "ERROR"]
    ratio("pass_rate", len(passed), n)
    answerable = [r for r in results if not r["expect_abstain"]]
    ratio("answer_accuracy", sum(r["passed"] for r in answerable), len(answerable))
    done = [r for r in results if r["status"] != "ERROR"]
    abstained = [r for r in done if r["abstained"]]
    should = [r for r in done if r["expect_abstain"]]
    right = [r for r in abstained if r["expect_abstain"]]
    ratio("abstention_precision", len(right), len(abstained))
    ratio("abstention_recall", len(right), len(should))
    supports = [r["citation_support"] for r in done if r["citation_support"] is not None]
    ratio("citation_recall", sum(s["supported"] for s in supports), len(supports))
    ratio("citation_precision", sum(sum(s["relevant"]) for s in supports), sum(len(s["relevant"]) for s in supports))
    targets = [r for r in results if r["retrieval_hit"] is not None]
    ratio("retrieval_recall_at_k", sum(r["retrieval_hit"] for r in targets), len(targets))
    refs = [r for r in results if r["reference_f1"] is not None]
    ratio("reference_f1", sum(r["reference_f1"] for r in refs), len(refs))
    squad = [r for r in results if r["squad"] is not None]
    has = [r for r in squad if r["squad"]["has_answer"]]
    no = [r for r in squad if not r["squad"]["has_answer"]]
    for prefix, group in (("squad", squad), ("squad_hasans", has), ("squad_noans", no)):
        ratio(f"{prefix}_exact", sum(r["squad"]["exact"] for r in group), len(group))
        ratio(f"{prefix}_f1", sum(r["squad"]["f1"] for r in group), len(group))
    ratio("squad_hasans_accuracy", sum(r["passed"] for r in has), len(has))
    latencies = [r["timings"]["total_s"] for r in done if "total_s" in r["timings"]]
    metrics["latency_median_s"] = statistics.median(latencies) if latencies else None
    metrics["latency_p95_s"] = _percentile(latencies, 95)
    statuses = Counter(r["status"] for r in results)
    counts = {
        "questions": n,
        "passed": statuses["PASS"] + statuses["XPASS"],
        "failed": statuses["FAIL"] + statuses["XFAIL"],
        **{s.lower(): statuses[s] for s in ("PASS", "FAIL", "XFAIL", "XPASS", "ERROR")},
        "answerable": len(answerable),
        "unanswerable": n - len(answerable),
        "abstained": len(abstained),
        "squad_hasans": len(has),
        "squad_noans": len(no),
        "retrieval_targets": len(targets),
        "answers_with_citations": sum(1 for r in done if r["citations"] and not r["abstained"]),
    }
    return {"metrics": {m: metrics.get(m) for m in METRICS}, "counts": counts, "fractions": fractions}


def summarize(results: list[dict]) -> dict:
    """Metrics over all results and for each set."""
    sets: dict[str, list[dict]] = {}
    for r in results:
        sets.setdefault(r["set"], []).append(r)
    return {"all": compute_metrics(results), "sets": {name: compute_metrics(rs) for name, rs in sets.items()}}


# -- thresholds and baseline ----------------------------------------------------------------------------------


def parse_threshold(spec: str, set_names: Iterable[str] = ()) -> tuple[str | None, str, float]:
    """``"answer_accuracy=0.8"``, ``"article.abstention_recall=90%"`` -> (set or None, metric, value)."""
    name, sep, value = spec.partition("=")
    name = name.strip()
    if not sep or not name:
        raise AssistantError(f"Threshold {spec!r} must look like METRIC=VALUE, e.g. answer_accuracy=0.8.")
    set_name, _, metric = name.rpartition(".")
    if metric not in METRICS:
        raise AssistantError(f"Unknown metric {metric!r} in {spec!r}; known metrics: {', '.join(METRICS)}.")
    names = set(set_names)
    if set_name and names and set_name not in names:
        raise AssistantError(f"Unknown question set {set_name!r} in {spec!r}; the sets are: {', '.join(names)}.")
    try:
        v = value.strip()
        number = float(v[:-1]) / 100 if v.endswith("%") else float(v)
    except ValueError as exc:
        raise AssistantError(f"Threshold {spec!r}: {value!r} is not a number (use 0.8 or 80%).") from exc
    return set_name or None, metric, number


def check_thresholds(summary: dict, minimums: Iterable[str] = (), maximums: Iterable[str] = ()) -> list[str]:
    """The threshold violations as messages (empty when all hold); a metric not computed violates."""
    problems = []
    for specs, is_min in ((minimums, True), (maximums, False)):
        for spec in specs:
            set_name, metric, bound = parse_threshold(spec, summary["sets"])
            block = summary["sets"].get(set_name) if set_name else summary["all"]
            value = block["metrics"].get(metric) if block else None
            label = f"{set_name}.{metric}" if set_name else metric
            if value is None:
                problems.append(f"{label} was not computed (nothing to measure), required {spec.split('=', 1)[1]}")
            elif (value < bound) if is_min else (value > bound):
                word = "below the minimum" if is_min else "above the maximum"
                problems.append(f"{label} = {_fmt(metric, value)} is {word} {_fmt(metric, bound)}")
    return problems


def load_run(path: Path | str) -> dict:
    """A results.json written by an earlier ``assistant eval``."""
    path = Path(path)
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AssistantError(f"Cannot read the baseline {path}: {exc}") from exc
    if not isinstance(run, dict) or not isinstance(run.get("results"), list):
        raise AssistantError(f"{path} is not an 'assistant eval' results.json (no 'results' list).")
    return run


def compare(baseline: dict, current: dict) -> dict:
    """Questions that went pass -> fail (regressions) and fail -> pass (fixes), with both answers.

    A regression on a question now marked ``known_failure`` is listed but not counted in ``regressions``'
    exit decision (``blocking``). Metric deltas cover the ``all`` block.
    """
    before = {r["key"]: r for r in baseline["results"]}
    after = {r["key"]: r for r in current["results"]}

    def pair(key: str) -> dict:
        b, a = before[key], after[key]
        return {
            "key": key,
            "set": a["set"],
            "id": a["id"],
            "question": a["question"],
            "known_failure": a["known_failure"],
            "before": {"status": b["status"], "answer": b["answer"], "why": b.get("why", "")},
            "after": {"status": a["status"], "answer": a["answer"], "why": a["why"]},
        }

    common = [k for k in after if k in before]
    regressions = [pair(k) for k in common if before[k]["status"] in PASSED and after[k]["status"] not in PASSED]
    fixes = [pair(k) for k in common if before[k]["status"] not in PASSED and after[k]["status"] in PASSED]
    b_metrics = baseline.get("summary", {}).get("all", {}).get("metrics", {})
    a_metrics = current["summary"]["all"]["metrics"]
    deltas = {m: [b_metrics.get(m), a_metrics.get(m)] for m in METRICS if b_metrics.get(m) != a_metrics.get(m)}
    return {
        "baseline": baseline.get("meta", {}).get("started", ""),
        "baseline_git": baseline.get("meta", {}).get("git", {}),
        "regressions": regressions,
        "fixes": fixes,
        "blocking": [r["key"] for r in regressions if not r["known_failure"]],
        "new": [k for k in after if k not in before],
        "missing": [k for k in before if k not in after],
        "metric_deltas": deltas,
    }


# -- running --------------------------------------------------------------------------------------------------


def prompts_fingerprint(settings: Settings) -> dict:
    """sha256 of every file under the prompts folder, and one over all of them (names and contents)."""
    files, total = {}, hashlib.sha256()
    folder = settings.prompts
    for p in sorted(x for x in folder.rglob("*") if x.is_file()) if folder.is_dir() else []:
        data = p.read_bytes()
        rel = p.relative_to(folder).as_posix()
        files[rel] = hashlib.sha256(data).hexdigest()
        total.update(rel.encode() + b"\0" + data + b"\0")
    return {"sha256": total.hexdigest(), "files": files, "folder": str(folder)}


def git_revision(root: Path) -> dict:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    rev = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if rev else None
    return {"revision": rev, "dirty": bool(status) if status is not None else None}


def _settings_record(settings: Settings) -> dict:
    data = settings.model_dump(mode="json")
    if data.get("llm_api_key") not in (None, "", "not-needed"):
        data["llm_api_key"] = "***"
    return data


def _group_by_context(questions: list[Question]) -> list[tuple[str | None, list[Question]]]:
    groups: dict[str | None, list[Question]] = {}
    for q in questions:
        groups.setdefault(q.context, []).append(q)
    return list(groups.items())


def _settings_for(qset: QuestionSet, context: str | None, settings: Settings, tmp: Path) -> Settings:
    """SQuAD: the article's context is the only source (a temp seeds folder, a temp store). YAML: the set's
    ``sources`` when given and different from the configured seeds (with a temp store), else the settings."""
    if context is not None:
        base = tmp / f"{qset.name}-{context}"
        seeds = base / "seeds"
        seeds.mkdir(parents=True, exist_ok=True)
        (seeds / f"{context}.txt").write_text(qset.contexts[context] + "\n", encoding="utf-8")
        return settings.model_copy(
            update={"root": base, "seeds_dir": seeds, "index_dir": base / "index", "prompts_dir": settings.prompts}
        )
    if qset.sources is not None and qset.sources != settings.seeds:
        return settings.model_copy(update={"seeds_dir": qset.sources, "index_dir": tmp / f"{qset.name}-index"})
    return settings


def run_sets(
    qsets: list[QuestionSet],
    settings: Settings,
    tags: list[str] | None = None,
    limit: int | None = None,
    jobs: int = 1,
    progress: bool = True,
    make_assistant: Callable[[Settings], object] | None = None,
    partial: Path | None = None,
    sample: int | None = None,
) -> dict:
    """Run the selected questions of every set; return the run (meta, summary, results) as JSON-ready data.

    ``tags`` keeps questions having any of them; ``sample`` keeps N questions spread evenly over each set;
    ``limit`` keeps the first N selected questions of each set (in file order). With the local llama.cpp
    model answers are serialised (one model, one lock), so ``jobs`` > 1 only runs questions in parallel
    with ``backend=openai``. With ``partial``, each result is also appended to that JSON-lines file as soon
    as it is known, so an interrupted long run keeps its work.
    """
    if make_assistant is None:
        from .answering import Assistant

        make_assistant = Assistant
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    git, prompts = git_revision(settings.root), prompts_fingerprint(settings)  # as the run starts
    chosen = [(qs, qs.select(tags, limit, sample)) for qs in qsets]
    total = sum(len(qs) for _, qs in chosen)
    parallel = jobs if jobs > 1 and settings.backend == "openai" else 1
    results: list[dict] = []
    lock = threading.Lock()
    if partial is not None:
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text("", encoding="utf-8")
    bar = tqdm(total=total, desc="Evaluating", unit="question", disable=not progress, file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="assistant-eval-", ignore_cleanup_errors=True) as tmpdir:
        try:
            for qset, questions in chosen:
                for context, group in _group_by_context(questions):
                    assistant = make_assistant(_settings_for(qset, context, settings, Path(tmpdir)))
                    getattr(assistant, "chat", None)  # load the model now, not inside the first question's time

                    def one(q: Question, assistant=assistant, name=qset.name) -> dict:
                        r = run_question(assistant, q, name)
                        with lock:
                            bar.update(1)
                            if partial is not None:
                                with open(partial, "a", encoding="utf-8") as f:
                                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
                        return r

                    if parallel > 1:
                        with ThreadPoolExecutor(parallel) as pool:
                            results.extend(pool.map(one, group))
                    else:
                        results.extend(one(q) for q in group)
        finally:
            bar.close()
            _release_stores()
    from . import llm as llm_mod

    meta = {
        "report_version": REPORT_VERSION,
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - t0, 3),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "sets": [
            {
                "name": qs.name,
                "path": str(qs.path),
                "kind": qs.kind,
                "sha256": qs.sha256,
                "questions": len(qs.questions),
                "selected": len(sel),
            }
            for qs, sel in chosen
        ],
        "options": {"limit": limit, "sample": sample, "tags": list(tags or []), "jobs": jobs, "parallel": parallel},
        "model": next((r["model"] for r in results if r["model"]), llm_mod.model_label(settings)),
        "prompts": prompts,
        "settings": _settings_record(settings),
        "k": settings.k,
        "git": git,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    return {"meta": meta, "summary": summarize(results), "results": results}


def _release_stores() -> None:
    """Let Chroma forget the temporary stores before their folder is deleted."""
    try:
        from .index import _reset_chroma_cache

        _reset_chroma_cache()
    except Exception:  # pragma: no cover - best effort
        pass


# -- reports --------------------------------------------------------------------------------------------------


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if metric in SECONDS_METRICS else f"{100 * value:.1f}%"


def _frac(block: dict, metric: str) -> str:
    f = block["fractions"].get(metric)
    if not f:
        return ""
    num = f"{f[0]:.2f}".rstrip("0").rstrip(".") if isinstance(f[0], float) else str(f[0])
    return f"({num}/{f[1]})"


def summary_lines(block: dict, title: str) -> list[str]:
    c = block["counts"]
    lines = [
        f"{title}: {c['questions']} questions, {c['passed']} passed, {c['failed']} failed"
        f" ({c['xfail']} known failures, {c['xpass']} unexpectedly passing), {c['error']} errors"
    ]
    for m in METRICS:
        value = block["metrics"][m]
        if value is None and m.startswith(("squad", "reference")):
            continue
        lines.append(f"  {LABELS[m]:<32} {_fmt(m, value):>8}  {_frac(block, m)}".rstrip())
    return lines


def table_lines(results: list[dict], failures_only: bool = False, width: int | None = None) -> list[str]:
    width = width or max(100, shutil.get_terminal_size((140, 20)).columns)
    multi = len({r["set"] for r in results}) > 1
    id_w = min(36, max([len(r["id"]) for r in results] + [2]))
    lines = [f"{'STATUS':<6} {'SET/ID' if multi else 'ID':<{id_w}}  WHY"]
    for r in results:
        if failures_only and r["status"] == "PASS":
            continue
        name = f"{r['set']}/{r['id']}" if multi else r["id"]
        why = r["why"]
        if r["status"] not in PASSED:
            if r["reasons"] and "abstained" not in why:
                why += f" [reasons: {'; '.join(r['reasons'])}]"
            if not r["abstained"] and r["answer"]:
                why += f" | answer: {r['answer']!r}"
        if r["status"] == "XFAIL":
            why = f"known failure: {r['known_failure']} | {why}"
        if r["status"] == "XPASS":
            why = f"passed although marked known_failure ({r['known_failure']})"
        line = f"{r['status']:<6} {name:<{id_w}}  {why}"
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    return lines


def comparison_lines(cmp: dict) -> list[str]:
    lines = [
        f"Compared with the baseline of {cmp['baseline'] or '?'}: {len(cmp['regressions'])} pass→fail, "
        f"{len(cmp['fixes'])} fail→pass, {len(cmp['new'])} new, {len(cmp['missing'])} missing"
    ]
    for title, items in (("pass→fail", cmp["regressions"]), ("fail→pass", cmp["fixes"])):
        for p in items:
            note = " (known failure)" if p["known_failure"] and title == "pass→fail" else ""
            lines.append(f"  {title}{note} {p['key']}: {p['question']}")
            lines.append(f"      before [{p['before']['status']}] {p['before']['answer']!r}")
            lines.append(f"      after  [{p['after']['status']}] {p['after']['answer']!r}  {p['after']['why']}")
    for m, (b, a) in cmp["metric_deltas"].items():
        lines.append(f"  {LABELS[m]:<32} {_fmt(m, b):>8} → {_fmt(m, a)}")
    return lines


def write_json(run: dict, path: Path) -> None:
    path.write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_junit(run: dict, path: Path) -> None:
    """One <testsuite> per question set, one <testcase> per question; XFAIL is <skipped>, XPASS a failure."""
    results = run["results"]
    counts = run["summary"]["all"]["counts"]
    suites = ET.Element(
        "testsuites",
        name="assistant eval",
        tests=str(len(results)),
        failures=str(counts["fail"] + counts["xpass"]),
        errors=str(counts["error"]),
        skipped=str(counts["xfail"]),
        time=f"{run['meta']['duration_s']:.3f}",
    )
    by_set: dict[str, list[dict]] = {}
    for r in results:
        by_set.setdefault(r["set"], []).append(r)
    for name, rs in by_set.items():
        c = run["summary"]["sets"][name]["counts"]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=name,
            tests=str(len(rs)),
            failures=str(c["fail"] + c["xpass"]),
            errors=str(c["error"]),
            skipped=str(c["xfail"]),
            time=f"{sum(r['timings'].get('total_s', 0.0) for r in rs):.3f}",
            timestamp=run["meta"]["started"],
        )
        props = ET.SubElement(suite, "properties")
        for key, value in (
            ("model", run["meta"]["model"]),
            ("prompts_sha256", run["meta"]["prompts"]["sha256"]),
            ("git_revision", run["meta"]["git"].get("revision") or ""),
        ):
            ET.SubElement(props, "property", name=key, value=str(value))
        for m, v in run["summary"]["sets"][name]["metrics"].items():
            if v is not None:
                ET.SubElement(props, "property", name=f"metric.{m}", value=f"{v:.6g}")
        for r in rs:
            case = ET.SubElement(
                suite, "testcase", classname=f"eval.{name}", name=r["id"], time=f"{r['timings'].get('total_s', 0):.3f}"
            )
            body = failure_message(r)
            if r["status"] == "FAIL":
                ET.SubElement(case, "failure", message=r["why"][:500], type="AssertionError").text = body
            elif r["status"] == "XPASS":
                msg = f"passed although marked known_failure: {r['known_failure']}"
                ET.SubElement(case, "failure", message=msg, type="XPASS").text = body
            elif r["status"] == "ERROR":
                ET.SubElement(case, "error", message=(r["error"] or "")[:500], type="AssistantError").text = body
            elif r["status"] == "XFAIL":
                ET.SubElement(case, "skipped", message=f"known failure: {r['known_failure']}").text = body
            ET.SubElement(case, "system-out").text = body
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#1d1d1f}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#f4f4f6;position:sticky;top:0}
table.metrics{width:auto}table.metrics td.num{text-align:right;font-variant-numeric:tabular-nums}
.PASS{background:#eaf7ea}.FAIL,.ERROR{background:#fdeaea}.XFAIL{background:#fff6df}.XPASS{background:#fde3c8}
.status{font-weight:600;white-space:nowrap}.tag{display:inline-block;background:#eef;border-radius:3px;
padding:0 4px;margin:1px;font-size:.85em}
.quote{margin:2px 0;padding-left:6px;border-left:3px solid #bbd}.src{color:#666;font-size:.85em}
.muted{color:#666}.small{font-size:.85em}mark{background:#ffe27a}details summary{cursor:pointer}
#filter{margin:.6em 0}
"""

_JS = """
function show(which){for(const tr of document.querySelectorAll('#questions tbody tr')){
tr.style.display=(which==='all'||!tr.classList.contains('PASS'))?'':'none';}}
"""


def _highlight(quote: str, needles: list[str]) -> str:
    """The quote, HTML-escaped, with the first expected ``cite`` text found in it marked."""
    for needle in needles:
        words = needle.split()
        if not words:
            continue
        pattern = r"\s+".join("".join("['’]" if ch in "'’" else re.escape(ch) for ch in w) for w in words)
        m = re.search(pattern, quote, flags=re.IGNORECASE)
        if m:
            e = html.escape
            return f"{e(quote[: m.start()])}<mark>{e(m.group(0))}</mark>{e(quote[m.end() :])}"
    return html.escape(quote)


def write_html(run: dict, path: Path) -> None:
    """A self-contained page: run metadata, metrics per set, baseline comparison, every question."""
    e = html.escape
    meta, summary, results = run["meta"], run["summary"], run["results"]
    blocks = [("all", summary["all"])] + (list(summary["sets"].items()) if len(summary["sets"]) > 1 else [])
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>assistant eval {e(meta['started'])}</title><style>{_CSS}</style><script>{_JS}</script></head><body>",
        f"<h1>Evaluation of {e(', '.join(s['name'] for s in meta['sets']))}</h1>",
        "<table class='metrics'>",
    ]
    git = meta["git"]
    rev = (git.get("revision") or "unknown") + (" (uncommitted changes)" if git.get("dirty") else "")
    for label, value in (
        ("started", meta["started"]),
        ("duration", f"{meta['duration_s']:.1f} s"),
        ("model", meta["model"]),
        ("prompts sha256", meta["prompts"]["sha256"]),
        ("git revision", rev),
        ("retrieval k", meta["k"]),
        ("sets", "; ".join(f"{s['name']} ({s['selected']}/{s['questions']}, {s['path']})" for s in meta["sets"])),
        ("command", " ".join(meta["command"])),
    ):
        parts.append(f"<tr><th>{e(label)}</th><td>{e(str(value))}</td></tr>")
    parts.append("</table>")
    parts.append(
        f"<details><summary>settings</summary><pre>{e(json.dumps(meta['settings'], indent=2))}</pre></details>"
    )
    parts.append("<h2>Summary</h2><table class='metrics'><tr><th>metric</th>")
    parts += [f"<th>{e(name)}</th>" for name, _ in blocks]
    parts.append("</tr>")
    count_rows = ("questions", "pass", "fail", "xfail", "xpass", "error")
    for key in count_rows:
        parts.append(f"<tr><td>{key}</td>" + "".join(f"<td class='num'>{b['counts'][key]}</td>" for _, b in blocks))
    for m in METRICS:
        if all(b["metrics"][m] is None for _, b in blocks):
            continue
        cells = "".join(
            f"<td class='num' title='{e(_frac(b, m))}'>{e(_fmt(m, b['metrics'][m]))} "
            f"<span class='muted small'>{e(_frac(b, m))}</span></td>"
            for _, b in blocks
        )
        parts.append(f"<tr><td>{e(LABELS[m])}</td>{cells}</tr>")
    parts.append("</table>")
    if run.get("thresholds"):
        parts.append("<h2>Thresholds not met</h2><ul>")
        parts += [f"<li>{e(p)}</li>" for p in run["thresholds"]]
        parts.append("</ul>")
    cmp = run.get("comparison")
    if cmp:
        parts.append(f"<h2>Compared with the baseline of {e(cmp['baseline'] or '?')}</h2>")
        for title, items in (("pass → fail", cmp["regressions"]), ("fail → pass", cmp["fixes"])):
            parts.append(f"<h3>{title}: {len(items)}</h3>")
            if items:
                parts.append("<table><tr><th>question</th><th>before</th><th>after</th></tr>")
                for p in items:
                    b, a = p["before"], p["after"]
                    parts.append(
                        f"<tr><td><b>{e(p['key'])}</b><br>{e(p['question'])}</td>"
                        f"<td class='{e(b['status'])}'>{e(b['status'])}: {e(b['answer'])}</td>"
                        f"<td class='{e(a['status'])}'>{e(a['status'])}: {e(a['answer'])}"
                        f"<div class='small muted'>{e(a['why'])}</div></td></tr>"
                    )
                parts.append("</table>")
    parts.append(
        "<h2>Questions</h2><div id='filter'><button onclick=\"show('all')\">all</button> "
        "<button onclick=\"show('problems')\">failures only</button></div>"
    )
    parts.append(
        "<table id='questions'><thead><tr><th>status</th><th>id</th><th>question</th><th>answer</th>"
        "<th>cited quotes</th><th>why</th><th>time</th></tr></thead><tbody>"
    )
    for r in results:
        hist = "".join(f"<div class='small muted'>user: {e(u)}<br>assistant: {e(a)}</div>" for u, a in r["history"])
        rewritten = (
            f"<div class='small muted'>rewritten: {e(r['standalone'])}</div>"
            if r["standalone"] and r["standalone"] != r["question"]
            else ""
        )
        tags = "".join(f"<span class='tag'>{e(t)}</span>" for t in r["tags"])
        exp = r["expected"]
        want = "abstain" if r["expect_abstain"] else "answer"
        details = [f"expected: {want}"] + [f"{k}: {exp[k]}" for k in ("must_include", "cite", "reference") if exp[k]]
        if exp["answers"]:
            details.append(f"gold: {' | '.join(exp['answers'])}")
        quotes = "".join(
            f"<div class='quote'><span class='src'>[{c['n']}] {e(c['source'])}:{c['start']}-{c['end']}</span> "
            f"{_highlight(c['quote'], exp['cite'])}</div>"
            for c in r["citations"]
        )
        why = r["why"]
        if r["status"] in ("XFAIL", "XPASS"):
            why = f"known failure: {r['known_failure']}. {why}"
        reasons = f"<div class='small muted'>reasons: {e('; '.join(r['reasons']))}</div>" if r["reasons"] else ""
        wrote = r["raw"].strip().rstrip(".")
        raw = f"<div class='small muted'>model: {e(r['raw'])}</div>" if wrote and wrote != r["prediction"] else ""
        retrieval = (
            ""
            if r["retrieval_hit"] is None
            else f"<div class='small muted'>retrieved target: {'yes' if r['retrieval_hit'] else 'no'}</div>"
        )
        total = r["timings"].get("total_s")
        parts.append(
            f"<tr class='{e(r['status'])}'><td class='status'>{e(r['status'])}</td>"
            f"<td>{e(r['id'])}<br>{tags}</td>"
            f"<td>{hist}{e(r['question'])}{rewritten}<div class='small muted'>{e('; '.join(details))}</div></td>"
            f"<td>{e(r['answer'])}{raw}</td><td>{quotes}</td>"
            f"<td>{e(why)}{reasons}{retrieval}</td>"
            f"<td class='small'>{'' if total is None else f'{total:.2f}s'}</td></tr>"
        )
    parts.append("</tbody></table></body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")


def write_reports(run: dict, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "junit": out / "junit.xml", "html": out / "report.html"}
    write_json(run, paths["json"])
    write_junit(run, paths["junit"])
    write_html(run, paths["html"])
    return paths


# -- the command ----------------------------------------------------------------------------------------------


def eval_command(
    settings: Settings,
    set_paths: list[Path],
    out: Path | None = None,
    baseline: Path | None = None,
    minimums: tuple[str, ...] = (),
    maximums: tuple[str, ...] = (),
    limit: int | None = None,
    tags: tuple[str, ...] = (),
    jobs: int = 1,
    failures_only: bool = False,
    echo: Callable[..., None] = click.echo,
    progress: bool = True,
    make_assistant: Callable[[Settings], object] | None = None,
    sample: int | None = None,
) -> int:
    """``assistant eval``: run, print the table and summary, write the reports; return the exit code
    (0: fine, 1: a pass→fail regression against the baseline or a threshold not met)."""
    qsets = [load_question_set(p) for p in set_paths]
    names = [q.name for q in qsets]
    if len(set(names)) != len(names):
        raise AssistantError(f"Two question sets have the same name ({', '.join(names)}); rename one ('name:').")
    for spec in (*minimums, *maximums):
        parse_threshold(spec, names)  # fail before the long run
    base = load_run(baseline) if baseline else None
    wanted = [t.strip() for spec in tags for t in spec.split(",") if t.strip()]
    if jobs > 1 and settings.backend != "openai":
        echo(
            f"Note: --jobs {jobs} is accepted, but the local llama.cpp model answers one question at a time "
            "(one model, one lock), so the questions run one after another.",
            err=True,
        )
    out = out or settings.root / "reports" / f"eval-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    partial = out / "results.partial.jsonl"
    run = run_sets(qsets, settings, wanted, limit, jobs, progress, make_assistant, partial=partial, sample=sample)
    if not run["results"]:
        raise AssistantError("No question was selected (check --tags, --sample and --limit).")
    run["thresholds"] = check_thresholds(run["summary"], minimums, maximums)
    if base is not None:
        run["comparison"] = compare(base, run)
    paths = write_reports(run, out)
    partial.unlink(missing_ok=True)  # complete: results.json holds everything
    for line in table_lines(run["results"], failures_only):
        echo(line)
    echo("")
    for line in summary_lines(run["summary"]["all"], "Summary"):
        echo(line)
    if len(run["summary"]["sets"]) > 1:
        for name, block in run["summary"]["sets"].items():
            for line in summary_lines(block, f"Set {name}"):
                echo(line)
    meta = run["meta"]
    echo(
        f"Model {meta['model']}, prompts {meta['prompts']['sha256'][:12]}, "
        f"git {(meta['git'].get('revision') or 'unknown')[:12]}{' (dirty)' if meta['git'].get('dirty') else ''}"
    )
    code = 0
    if "comparison" in run:
        echo("")
        for line in comparison_lines(run["comparison"]):
            echo(line)
        if run["comparison"]["blocking"]:
            echo(f"Regression: {len(run['comparison']['blocking'])} question(s) went from pass to fail.", err=True)
            code = 1
    for problem in run["thresholds"]:
        echo(f"Threshold not met: {problem}", err=True)
        code = 1
    echo(f"Reports: {paths['json']}  {paths['junit']}  {paths['html']}")
    return code
