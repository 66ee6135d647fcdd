"""Judging one answer: the checks of a question's expectations, its status and the JSON-ready result record.

Every question goes through ``Assistant.stream`` (the same path as ``answer()``, which also yields the
retrieval ``Decision``). A question PASSES when all of its expectations hold:

- ``expect_abstain: true``: the assistant abstained.
- otherwise (an answerable question): the assistant answered, and
  - ``must_include``: every group has an alternative that occurs in the answer (case-insensitive substring,
    apostrophes and whitespace normalised, citation markers removed); "the answer" is the full reply
    (``Answer.text``, every ``[n]`` removed) or its short form (``Answer.short``): either may hold it;
  - ``cite``: at least one cited span contains one of the ``cite`` texts (same normalisation);
  - SQuAD gold answers: some SQuAD-normalised gold answer occurs, as whole words, in the SQuAD-normalised
    full reply or short form;
  - ``reference`` (judged only when the question has neither ``must_include`` nor gold answers): the
    normalised reference occurs in the normalised full reply or short form, or the SQuAD token F1 of the
    prediction (``scoring.prediction``) against it is at least 0.5;
  - ``supported: true``: the answer has sentences and every one is *supported by its own citations* (the
    per-sentence rule in ``assistant.metrics``); the check's detail names each unsupported sentence;
  - QuAIL questions: the answer picks the gold option (``scoring.choose_option``), check ``option``. An
    unanswerable QuAIL question also gets the ``option`` check, which an abstention passes.

Statuses: PASS, FAIL, ERROR (the question raised an error), XFAIL (``known_failure`` and it failed, as
expected), XPASS (``known_failure`` but it passed: strict, so it counts as a problem to look at).

The measures the checks use (normalisation, SQuAD, citation and sentence support, QuAIL grading) and the
metrics over many results are in ``assistant.metrics``.
"""

from __future__ import annotations

from collections.abc import Iterable

from .questions import Question
from .schema import Answer, AssistantError, ModelUnavailableError
from .scoring import (
    NOT_ENOUGH_INFORMATION,
    answer_sentence_support,
    answer_text,
    citation_support,
    contains_words,
    f1_score,
    fold,
    judge_option,
    prediction,
    quote_useful,
    squad_scores,
)

# -- the checks ---------------------------------------------------------------------------------------------


def _check(name: str, ok: bool, detail: str = "") -> dict:
    return {"name": name, "ok": bool(ok), "detail": "" if ok else detail}


def _alts(items: Iterable[str]) -> str:
    return " or ".join(repr(a) for a in items)


def _unsupported_detail(sentences: list[dict]) -> str:
    if not sentences:
        return "the answer has no sentences to check against their citations"
    parts = []
    for i, s in enumerate(sentences, start=1):
        if s["supported"]:
            continue
        cites = "".join(f"[{n}]" for n in s["citations"])
        why = f"lacks {', '.join(s['unsupported_words'])}" if s["unsupported_words"] else "no content words"
        where = f"its citations {cites}" if cites else "any citation (it has none)"
        parts.append(f"sentence {i} {s['text']!r} is not supported by {where} ({why})")
    return "; ".join(parts)


def _option_detail(quail: dict, abstained: bool) -> str:
    gold = f"the gold option is {quail['gold_option']!r}"
    if abstained:
        return f"abstaining picks {NOT_ENOUGH_INFORMATION!r}; {gold}"
    if quail["chosen"] is None:
        return f"the answer picks no single option (a tie, or no word shared with any); {gold}"
    return f"the answer picks {quail['chosen_option']!r}; {gold}"


def _content_checks(q: Question, answer: Answer, quotes: list[str], sentences: list[dict]) -> list[dict]:
    """The checks of an answer that was given to an answerable question (see the module docstring)."""
    pred = prediction(answer)
    forms = [answer_text(answer), pred]  # the full reply and the short form: either may hold the answer
    folded = [fold(f) for f in forms]
    checks = []
    for group in q.must_include:
        ok = any(fold(a) in text for a in group for text in folded)
        checks.append(_check("must_include", ok, f"answer lacks {_alts(group)}"))
    if q.cite:
        ok = any(fold(c) in fold(quote) for c in q.cite for quote in quotes)
        checks.append(_check("cite", ok, f"no cited span contains {_alts(q.cite)}"))
    if q.answers:
        ok = any(contains_words(f, g) for g in q.answers for f in forms)
        checks.append(_check("gold", ok, f"answer contains no gold answer ({_alts(q.answers[:4])})"))
    elif q.reference and not q.must_include:
        ok = any(contains_words(f, q.reference) for f in forms) or f1_score(pred, q.reference) >= 0.5
        checks.append(_check("reference", ok, f"answer does not match the reference {q.reference!r}"))
    if q.supported:
        ok = bool(sentences) and all(s["supported"] for s in sentences)
        checks.append(_check("supported", ok, _unsupported_detail(sentences)))
    return checks


def _checks(q: Question, answer: Answer | None, error, reasons, quotes, sentences, quail) -> list[dict]:
    if error is not None or answer is None:
        return [_check("error", False, f"error: {error or 'no answer was produced'}")]
    abstained = bool(answer.abstained)
    if q.expect_abstain:
        checks = [_check("abstain", abstained, "expected an abstention, but it answered")]
    else:
        why = "; ".join(reasons) or "no reason given"
        checks = [_check("answered", not abstained, f"abstained ({why})")]
        if not abstained:
            checks += _content_checks(q, answer, quotes, sentences)
    if quail is not None:
        checks.append(_check("option", quail["right"], _option_detail(quail, abstained)))
    return checks


def _status(passed: bool, error, answer, known_failure) -> str:
    if error is not None or answer is None:
        return "ERROR"
    if known_failure:
        return "XPASS" if passed else "XFAIL"
    return "PASS" if passed else "FAIL"


def _retrieval_hit(q: Question, hits: list) -> bool | None:
    """Did one retrieved passage contain the target (SQuAD gold answer or ``cite`` text)? None: no target."""
    texts = [getattr(h.passage, "text", "") for h in hits]
    if q.answers:
        return any(contains_words(t, g) for t in texts for g in q.answers)
    if q.cite:
        return any(fold(c) in fold(t) for t in texts for c in q.cite)
    return None


def _hit_record(h) -> dict:
    return {
        "source": h.passage.source,
        "start": h.passage.start,
        "end": h.passage.end,
        "score": round(float(h.score), 6),
        "similarity": round(float(h.similarity), 4),
    }


def _squad_record(q: Question, pred: str) -> dict | None:
    if not q.is_squad:
        return None
    em, f1 = squad_scores(pred, q.answers)
    return {"exact": em, "f1": f1, "has_answer": bool(q.answers)}


def _question_record(q: Question, set_name: str) -> dict:
    """The question and what it expects, as the result records them."""
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
            "supported": q.supported,
            "options": q.options,
            "gold_option": q.gold_option,
        },
    }


def _answer_record(answer: Answer | None) -> dict:
    """The answer as the result records it (empty fields when there is none)."""
    return {
        "answer": answer.text if answer is not None else "",
        "short": answer.short if answer is not None else "",
        "prediction": prediction(answer),
        "abstained": bool(answer.abstained) if answer is not None else False,
        "outcome": answer.status if answer is not None else None,
        "citations": [c.model_dump() for c in answer.citations] if answer is not None else [],
        "model": answer.model if answer is not None else "",
        "timings": dict(answer.timings) if answer is not None else {},
    }


def _decision_record(decision) -> dict:
    """What the retrieval ``Decision`` says about the answer (duck-typed: any attribute may be missing)."""
    return {
        "standalone": getattr(decision, "standalone", "") or "",
        "reasons": list(getattr(decision, "reasons", []) or []),
        "raw": getattr(decision, "raw", "") or "",
        "verify_raw": getattr(decision, "verify_raw", "") or "",  # the reply over the cited sentences alone
        "signals": dict(getattr(decision, "signals", {}) or {}),
        "quote_probability": getattr(decision, "quote_probability", None),
        "quote_features": dict(getattr(decision, "quote_features", {}) or {}),
        "hits": [_hit_record(h) for h in getattr(decision, "hits", []) or []],
    }


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
    given = answer is not None and not answer.abstained  # an answer was given: its support can be measured
    reasons = list(getattr(decision, "reasons", []) or [])
    quotes = [c.quote for c in answer.citations] if answer is not None else []
    sentences = answer_sentence_support(answer) if given else None
    quail = judge_option(q, answer) if q.is_quail else None
    checks = _checks(q, answer, error, reasons, quotes, sentences or [], quail)
    passed = all(c["ok"] for c in checks)
    return {
        **_question_record(q, set_name),
        **_answer_record(answer),
        **_decision_record(decision),
        "error": error,
        "checks": checks,
        "passed": passed,
        "status": _status(passed, error, answer, q.known_failure),
        "why": "; ".join(c["detail"] for c in checks if not c["ok"]),
        "citation_support": citation_support(pred, quotes) if given else None,
        "sentence_support": sentences,
        "retrieval_hit": _retrieval_hit(q, list(getattr(decision, "hits", []) or [])),
        "squad": _squad_record(q, pred),
        "quail": quail,
        "reference_f1": f1_score(pred, q.reference) if q.reference and not q.expect_abstain else None,
        "quote_useful": _quote_useful(q, answer),
    }


def _quote_useful(q: Question, answer: Answer | None) -> bool | None:
    """For a ``quoted`` reply: whether the quote holds what the question asks for (None for any other reply)."""
    if answer is None or answer.status != "quoted":
        return None
    return quote_useful(q, " ".join(s.text for s in answer.sentences))


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

