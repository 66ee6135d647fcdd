"""The metrics of a run, as pure functions of its results (no I/O), with their names and labels; the scores of
one answer that they sum (SQuAD EM/F1, ALCE support, sentence support, QuAIL options) are in ``scoring``.

Metrics (fractions in [0, 1], ``None`` when nothing was there to measure; see ``compute_metrics``):

- ``pass_rate``: passed questions / all questions (known failures count as failed).
- ``answer_accuracy``: answerable questions (no ``expect_abstain: true``; SQuAD HasAns) that passed /
  answerable questions.
- ``abstention_precision``: questions where it abstained and should have / questions where it abstained.
- ``abstention_recall``: questions where it abstained and should have / questions where it should have.
- ``citation_recall`` (ALCE, computed locally): over the answers given (not abstained), the share whose
  answer is *supported* by the union of its cited spans. Rule: the prediction (below) is supported
  by a set of spans when every content word of it (``text.content_words``: stop words and question
  words dropped, numbers kept) occurs in those spans as the same word, the same crude stem (plural/tense)
  or the same number ("twelve" = "12"). An answer without citations or without content words is unsupported.
- ``citation_precision`` (ALCE): over all citations of the answers given, the share that are *relevant*:
  the answer is supported by the union of all its citations, and either this citation alone supports it
  or removing it from the set breaks the support (it is needed).
- ``sentence_support`` (ALCE per sentence): over the sentences (``Answer.sentences``) of the answers given,
  the share supported by the union of the quotes of *their own* markers. Answer sentences paraphrase the
  source, so the per-sentence rule is looser on wording and strict on facts: a sentence is supported when
  (1) every number in it (digits or number words; the word "one" is not counted, it is mostly a pronoun)
  is a number of the quotes, (2) every capitalised name (``text.names``, stop words dropped; a capitalised
  first word counts, since it may be a name) occurs in the quotes as a word or stem, and (3) at least 60 %
  of its distinct content words do (``Vocabulary.coverage``, no fuzzy matching). A sentence without
  citations, or without content words, is unsupported; a marker with no matching citation adds no quote.
- ``sentence_citation_recall``: the same number as ``sentence_support`` (ALCE's citation recall, per sentence).
- ``sentence_citation_precision``: over all (sentence, citation) pairs, the share that are relevant: the
  sentence is supported by all its citations, and either this citation alone supports it or removing it
  breaks the support.
- QuAIL sets (``questionsets`` reads them): ``choose_option`` grades a free answer against the options.
  An answer (markers removed) picks the one option that shares the most distinct content words (stemmed)
  with it; a tie for the most, or no shared word, picks none (wrong). An abstention picks the "not enough
  information" option; an answer never does (it is left out of the word match), so an answer to an
  unanswerable question and an abstention on an answerable one are both wrong. ``quail_accuracy``: right /
  QuAIL questions (errors count as wrong); ``quail_<type>_accuracy`` the same per question type (the nine
  QuAIL types); ``quail_text_based_accuracy`` over Factual, Character_identity, Temporal_order and Causality
  combined (the QuAIL paper's text-based types; the file's own ``text_based`` flag leaves Causality out, so
  the flag is not used here); ``quail_unanswerable_declined``: unanswerable QuAIL questions where it
  abstained / unanswerable QuAIL questions.
- Quotes (``outcome`` ``quoted``: no checked answer, the article's closest sentences quoted verbatim; still an
  abstention above): ``quoted_rate``: quoted / questions without an error; ``quote_useful``: quotes holding what the
  question asks for (``scoring.quote_useful``: a SQuAD gold answer as whole normalised words, the QuAIL gold option
  picked by the quote, a YAML question's ``must_include`` groups or else its ``cite`` text) / quotes;
  ``quoted_answerable``: quotes on answerable questions / quotes; ``answered_or_quote_useful``: answerable questions
  that passed or were usefully quoted / answerable questions; ``quail_text_based_answered_or_quoted`` the same over
  QuAIL's text-based types, with the option rule for "right".
- ``retrieval_recall_at_k``: over questions with a target (a ``cite`` text, or SQuAD gold answers), the
  share whose retrieved passages (``Decision.hits``, k = settings.k) contain the target in one passage
  (cite: normalised substring; gold: SQuAD-normalised whole words).
- ``latency_median_s`` / ``latency_p95_s``: median and 95th percentile (nearest rank) of
  ``Answer.timings["total_s"]``, in seconds, over the questions that were answered or abstained.
- ``reference_f1``: mean SQuAD token F1 of the answer against ``reference`` (answerable YAML questions with a
  reference; an abstention predicts "").
- SQuAD sets, with the official SQuAD 2.0 definitions: ``squad_exact`` and ``squad_f1`` (max over the gold
  answers; an unanswerable question's only gold answer is ""), also split into ``squad_hasans_*`` and
  ``squad_noans_*``. The prediction is ``Answer.short`` when it is non-empty (the phrase form); otherwise
  (older answers) the answer text with its " [n]" markers and the final period stripped; "" when the
  assistant abstained. Normalisation: lowercase, remove punctuation, remove the articles a/an/the,
  collapse whitespace. ``squad_hasans_accuracy``: HasAns questions where it did not abstain and some
  normalised gold answer occurs in the normalised prediction (the ``gold`` check of ``assistant.judging``).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter

QUAIL_TYPES = (
    "Factual",
    "Character_identity",
    "Temporal_order",
    "Causality",
    "Belief_states",
    "Entity_properties",
    "Event_duration",
    "Subsequent_state",
    "Unanswerable",
)
TEXT_BASED_TYPES = QUAIL_TYPES[:4]  # the QuAIL paper's text-based types: the text states the answer
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
    "sentence_support",
    "sentence_citation_recall",
    "sentence_citation_precision",
    "quail_accuracy",
    "quail_text_based_accuracy",
    *(f"quail_{t.lower()}_accuracy" for t in QUAIL_TYPES),
    "quail_unanswerable_declined",
    "quoted_rate",
    "quote_useful",
    "quoted_answerable",
    "answered_or_quote_useful",
    "quail_text_based_answered_or_quoted",
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
    "sentence_support": "sentence support",
    "sentence_citation_recall": "sentence citation recall",
    "sentence_citation_precision": "sentence citation precision",
    "quail_accuracy": "QuAIL accuracy",
    "quail_text_based_accuracy": "QuAIL text-based accuracy",
    **{f"quail_{t.lower()}_accuracy": f"QuAIL: {t.replace('_', ' ').lower()}" for t in QUAIL_TYPES},
    "quail_unanswerable_declined": "QuAIL unanswerable declined",
    "quoted_rate": "quoted (of all questions)",
    "quote_useful": "quotes holding the answer",
    "quoted_answerable": "quotes on answerable questions",
    "answered_or_quote_useful": "answered right or usefully quoted",
    "quail_text_based_answered_or_quoted": "QuAIL text-based: right or usefully quoted",
    "latency_median_s": "latency median (s)",
    "latency_p95_s": "latency p95 (s)",
}


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
    done = [r for r in results if r["status"] != "ERROR"]
    fractions = {
        **_outcome_fractions(results, done),
        **_evidence_fractions(results, done),
        **_squad_fractions(results),
        **_sentence_fractions(done),
        **_quail_fractions(results),
        **_quote_fractions(results, done),
    }
    metrics: dict[str, float | None] = {name: (num / den) if den else None for name, (num, den) in fractions.items()}
    latencies = [r["timings"]["total_s"] for r in done if "total_s" in r["timings"]]
    metrics["latency_median_s"] = statistics.median(latencies) if latencies else None
    metrics["latency_p95_s"] = _percentile(latencies, 95)
    return {
        "metrics": {m: metrics.get(m) for m in METRICS},
        "counts": _counts(results, done),
        "fractions": {name: list(f) for name, f in fractions.items()},
    }


def _outcome_fractions(results: list[dict], done: list[dict]) -> dict[str, tuple[int, int]]:
    """Pass rate, answer accuracy, abstention precision and recall (``done``: the results without an error)."""
    answerable = [r for r in results if not r["expect_abstain"]]
    abstained = [r for r in done if r["abstained"]]
    right = sum(1 for r in abstained if r["expect_abstain"])
    return {
        "pass_rate": (sum(1 for r in results if r["passed"] and r["status"] != "ERROR"), len(results)),
        "answer_accuracy": (sum(r["passed"] for r in answerable), len(answerable)),
        "abstention_precision": (right, len(abstained)),
        "abstention_recall": (right, sum(1 for r in done if r["expect_abstain"])),
    }


def _evidence_fractions(results: list[dict], done: list[dict]) -> dict[str, tuple[float, int]]:
    """ALCE citation recall and precision per answer, retrieval recall@k and the mean reference F1."""
    supports = [r["citation_support"] for r in done if r["citation_support"] is not None]
    targets = [r for r in results if r["retrieval_hit"] is not None]
    refs = [r for r in results if r["reference_f1"] is not None]
    return {
        "citation_recall": (sum(s["supported"] for s in supports), len(supports)),
        "citation_precision": (sum(sum(s["relevant"]) for s in supports), sum(len(s["relevant"]) for s in supports)),
        "retrieval_recall_at_k": (sum(r["retrieval_hit"] for r in targets), len(targets)),
        "reference_f1": (sum(r["reference_f1"] for r in refs), len(refs)),
    }


def _squad_groups(results: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """The SQuAD results: all, HasAns, NoAns."""
    squad = [r for r in results if r["squad"] is not None]
    return squad, [r for r in squad if r["squad"]["has_answer"]], [r for r in squad if not r["squad"]["has_answer"]]


def _squad_fractions(results: list[dict]) -> dict[str, tuple[float, int]]:
    """SQuAD 2.0 EM and F1, overall, HasAns and NoAns, and the HasAns accuracy (the pass rule)."""
    squad, has, no = _squad_groups(results)
    out: dict[str, tuple[float, int]] = {}
    for prefix, group in (("squad", squad), ("squad_hasans", has), ("squad_noans", no)):
        out[f"{prefix}_exact"] = (sum(r["squad"]["exact"] for r in group), len(group))
        out[f"{prefix}_f1"] = (sum(r["squad"]["f1"] for r in group), len(group))
    out["squad_hasans_accuracy"] = (sum(r["passed"] for r in has), len(has))
    return out


def _counts(results: list[dict], done: list[dict]) -> dict[str, int]:
    statuses = Counter(r["status"] for r in results)
    answerable = sum(1 for r in results if not r["expect_abstain"])
    _, has, no = _squad_groups(results)
    return {
        "questions": len(results),
        "passed": statuses["PASS"] + statuses["XPASS"],
        "failed": statuses["FAIL"] + statuses["XFAIL"],
        **{s.lower(): statuses[s] for s in ("PASS", "FAIL", "XFAIL", "XPASS", "ERROR")},
        "answerable": answerable,
        "unanswerable": len(results) - answerable,
        "abstained": sum(1 for r in done if r["abstained"]),
        "squad_hasans": len(has),
        "squad_noans": len(no),
        "retrieval_targets": sum(1 for r in results if r["retrieval_hit"] is not None),
        "answers_with_citations": sum(1 for r in done if r["citations"] and not r["abstained"]),
        "answer_sentences": len(_answer_sentences(done)),
        "quail": sum(1 for r in results if r.get("quail")),
    }


def _answer_sentences(results: list[dict]) -> list[dict]:
    return [s for r in results for s in r.get("sentence_support") or []]


def _sentence_fractions(done: list[dict]) -> dict[str, tuple[int, int]]:
    """Per-sentence ALCE support, recall (the same number) and precision over (sentence, citation) pairs."""
    sentences = _answer_sentences(done)
    supported = (sum(s["supported"] for s in sentences), len(sentences))
    pairs = (sum(sum(s["relevant"]) for s in sentences), sum(len(s["relevant"]) for s in sentences))
    return {"sentence_support": supported, "sentence_citation_recall": supported, "sentence_citation_precision": pairs}


def _right(group: list[dict]) -> tuple[int, int]:
    return sum(r["quail"]["right"] for r in group), len(group)


def _quail_fractions(results: list[dict]) -> dict[str, tuple[int, int]]:
    """QuAIL accuracy overall, over the text-based types, per type, and how many unanswerable it declined."""
    quail = [r for r in results if r.get("quail")]
    if not quail:
        return {}
    of_type = {t: [r for r in quail if r["quail"]["type"] == t] for t in QUAIL_TYPES}
    impossible = [r for r in quail if r["expect_abstain"]]
    return {
        "quail_accuracy": _right(quail),
        "quail_text_based_accuracy": _right([r for r in quail if r["quail"]["type"] in TEXT_BASED_TYPES]),
        **{f"quail_{t.lower()}_accuracy": _right(group) for t, group in of_type.items()},
        "quail_unanswerable_declined": (sum(r["abstained"] for r in impossible), len(impossible)),
    }


def _quote_fractions(results: list[dict], done: list[dict]) -> dict[str, tuple[int, int]]:
    """How often a question ended quoted, how often the quote held the answer, and right-or-usefully-quoted."""
    quoted = [r for r in done if r.get("outcome") == "quoted"]
    answerable = [r for r in results if not r["expect_abstain"]]
    useful = sum(1 for r in answerable if r["passed"] or r.get("quote_useful"))
    out = {
        "quoted_rate": (len(quoted), len(done)),
        "quote_useful": (sum(bool(r.get("quote_useful")) for r in quoted), len(quoted)),
        "quoted_answerable": (sum(1 for r in quoted if not r["expect_abstain"]), len(quoted)),
        "answered_or_quote_useful": (useful, len(answerable)),
    }
    text_based = [r for r in results if r.get("quail") and r["quail"]["type"] in TEXT_BASED_TYPES]
    if text_based:
        out["quail_text_based_answered_or_quoted"] = (
            sum(1 for r in text_based if r["quail"]["right"] or r.get("quote_useful")), len(text_based)
        )  # fmt: skip
    return out


def summarize(results: list[dict]) -> dict:
    """Metrics over all results and for each set."""
    sets: dict[str, list[dict]] = {}
    for r in results:
        sets.setdefault(r["set"], []).append(r)
    return {"all": compute_metrics(results), "sets": {name: compute_metrics(rs) for name, rs in sets.items()}}


# -- formatting ---------------------------------------------------------------------------------------------


def format_metric(metric: str, value: float | None) -> str:
    """A metric's value as printed: seconds with two decimals, a ratio as a percentage, ``n/a`` when None."""
    if value is None:
        return "n/a"
    return f"{value:.2f}" if metric in SECONDS_METRICS else f"{100 * value:.1f}%"


def format_fraction(block: dict, metric: str) -> str:
    """A metric's numerator and denominator, ``"(3/6)"``; "" when the block keeps none for it."""
    f = block["fractions"].get(metric)
    if not f:
        return ""
    num = f"{f[0]:.2f}".rstrip("0").rstrip(".") if isinstance(f[0], float) else str(f[0])
    return f"({num}/{f[1]})"
