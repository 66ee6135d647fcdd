"""Public datasets as question sets: SQuAD 2.0 style JSONL and QuAIL multiple-choice JSONL.

SQuAD 2.0 style JSONL (``.jsonl``): one article per line, ``{"title", "context", "qas": [{"id", "question",
"answers", "is_impossible"}]}``; ``answers`` is a list of strings or of ``{"text": ...}`` objects. Each
article's context becomes the only source document for its questions. An impossible question expects an
abstention; an answerable one expects one of its gold answers (SQuAD-normalised) to occur in the answer.

QuAIL JSONL (``.jsonl`` whose questions have ``options``; detected from the first record): one text per
line, ``{"id", "title", "context", "qas": [{"id", "question", "options", "answers", "type", "text_based",
"is_impossible"}]}``; ``options`` lists the choices (one of them "not enough information"), ``answers``
holds the gold option. As with SQuAD, each text is the only source of its questions. A question is tagged
``quail``, its ``type`` (e.g. ``Causality``, for ``--tags``) and its text's key; an ``is_impossible``
question expects an abstention. The free answer is graded against the options (``scoring.choose_option``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .questions import NOT_ENOUGH_INFORMATION, Question, QuestionSet, QuestionSetError, _Errors, _is_text, _scalar_text


def _slug(title: str) -> str:
    return re.sub(r"(?:[^\w.-]|_)+", "_", title).strip("._") or "article"


def _jsonl_records(text: str, errors: _Errors):
    """Yield ``(line, record, where)`` for every well-formed ``{"title", "context", "qas": [...]}`` line;
    report the others to ``errors`` (shared by the SQuAD and QuAIL readers, which differ only per question)."""
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError as exc:
            errors.add(lineno, "line", f"invalid JSON ({exc})")
            continue
        if not isinstance(rec, dict):
            errors.add(lineno, "line", "must be a JSON object with title, context and qas")
            continue
        title = rec.get("title")
        where = f"article {title!r}" if _is_text(title) else "article"
        if not _is_text(title):
            errors.add(lineno, f"{where} field 'title'", "must be non-empty text")
            continue
        if not _is_text(rec.get("context")):
            errors.add(lineno, f"{where} field 'context'", "must be non-empty text")
            continue
        if not isinstance(rec.get("qas"), list):
            errors.add(lineno, f"{where} field 'qas'", "must be a list of questions")
            continue
        yield lineno, rec, where


def _new_key(contexts: dict[str, str], base: str) -> str:
    key = base
    while key in contexts:
        key += "_"
    return key


def _read_jsonl(text: str, path: Path, kind: str, key_of, question_of) -> QuestionSet:
    """The common loop: one source text per record, its questions built by ``question_of``, ids unique."""
    errors = _Errors(path)
    contexts: dict[str, str] = {}
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for lineno, rec, where in _jsonl_records(text, errors):
        key = _new_key(contexts, key_of(rec))
        contexts[key] = rec["context"]
        for i, qa in enumerate(rec["qas"], start=1):
            q = question_of(qa, i, key, lineno, where, errors)
            if q is None:
                continue
            if q.id in seen:
                errors.add(lineno, f"{where} question {q.id!r} field 'id'", f"duplicate id (line {seen[q.id]})")
                continue
            seen[q.id] = lineno
            questions.append(q)
    if not questions and not errors.items:
        errors.add(1, "file", "holds no questions")
    if errors.items:
        raise QuestionSetError(path, errors.items)
    return QuestionSet(path.stem, path, kind, questions, contexts=contexts)


def parse_squad_jsonl(text: str, path: Path | str = "<string>") -> QuestionSet:
    """One article per line; each question's ``context`` names its article's entry in ``contexts``."""
    return _read_jsonl(text, Path(path), "squad", lambda rec: _slug(rec["title"]), _squad_question)


def _identify(qa, i, lineno, where, errors: _Errors, fields: str) -> tuple[str, str] | None:
    """A question record's id and the label its errors name it by; None (an error recorded) when it has no id
    or no question text."""
    if not isinstance(qa, dict):
        errors.add(lineno, f"{where} question #{i}", f"must be an object with {fields}")
        return None
    qid = _scalar_text(qa.get("id"))
    label = f"{where} question {qid!r}" if qid else f"{where} question #{i}"
    for name, ok in (("id", qid is not None), ("question", _is_text(qa.get("question")))):
        if not ok:
            errors.add(lineno, f"{label} field {name!r}", "must be non-empty text")
            return None
    return qid, label


def _squad_question(qa, i, key, lineno, where, errors: _Errors) -> Question | None:
    named = _identify(qa, i, lineno, where, errors, "id, question and answers")
    if named is None:
        return None
    qid, label = named
    answers = []
    for a in qa.get("answers", []) if isinstance(qa.get("answers", []), list) else [None]:
        t = a.get("text") if isinstance(a, dict) else a
        if not isinstance(t, str):
            errors.add(lineno, f"{label} field 'answers'", 'must be a list of texts or of {"text": ...} objects')
            return None
        if t.strip() and t.strip() not in answers:
            answers.append(t.strip())
    impossible = qa.get("is_impossible", not answers)
    if not isinstance(impossible, bool):
        errors.add(lineno, f"{label} field 'is_impossible'", "must be true or false")
        return None
    if not impossible and not answers:
        errors.add(lineno, f"{label} field 'answers'", "an answerable question needs at least one answer")
        return None
    return Question(
        id=qid,
        question=qa["question"].strip(),
        tags=["squad", "noans" if impossible else "hasans", key],
        expect_abstain=impossible,
        answers=[] if impossible else answers,
        context=key,
        line=lineno,
    )


# -- QuAIL multiple-choice JSONL -------------------------------------------------------------------------


def is_quail_jsonl(text: str) -> bool:
    """Whether a ``.jsonl`` holds multiple-choice (QuAIL) questions: its first record's questions have
    ``options``. A first line that is not a record falls to the SQuAD reader, which reports it."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        rec = json.loads(first)
    except ValueError:
        return False
    qas = rec.get("qas") if isinstance(rec, dict) else None
    return isinstance(qas, list) and any(isinstance(qa, dict) and "options" in qa for qa in qas)


def _quail_key(rec: dict) -> str:
    """``b141_Food_is_killing_you``: the record id keeps keys unique (titles repeat), the title keeps them readable."""
    rid = _scalar_text(rec.get("id"))
    return _slug(f"{rid}_{rec['title']}" if rid else rec["title"])[:60].rstrip("._")


def parse_quail_jsonl(text: str, path: Path | str = "<string>") -> QuestionSet:
    """One text per line (see the module docstring); each question's ``context`` names its text."""
    return _read_jsonl(text, Path(path), "quail", _quail_key, _quail_question)


def _quail_gold(qa: dict, options: list[str]) -> str | None:
    answers = qa.get("answers")
    gold = answers[0] if isinstance(answers, list) and len(answers) == 1 else answers
    return gold.strip() if isinstance(gold, str) and gold.strip() in options else None


def _quail_question(qa, i, key, lineno, where, errors: _Errors) -> Question | None:
    named = _identify(qa, i, lineno, where, errors, "id, question, options and answers")
    if named is None:
        return None
    qid, label = named

    def bad(name: str, message: str) -> None:
        errors.add(lineno, f"{label} field {name!r}", message)

    raw_options = qa.get("options")
    if not isinstance(raw_options, list) or len(raw_options) < 2 or not all(_is_text(o) for o in raw_options):
        return bad("options", "must be a list of at least two non-empty texts")
    options = [o.strip() for o in raw_options]
    gold = _quail_gold(qa, options)
    if gold is None:
        return bad("answers", "must be a list holding exactly one of the options")
    qtype = qa.get("type")
    if qtype is not None and not _is_text(qtype):
        return bad("type", "must be non-empty text")
    impossible = qa.get("is_impossible", gold.casefold() == NOT_ENOUGH_INFORMATION)
    if not isinstance(impossible, bool):
        return bad("is_impossible", "must be true or false")
    text_based = qa.get("text_based")
    if text_based is not None and not isinstance(text_based, bool):
        return bad("text_based", "must be true or false")
    qtype = qtype.strip() if qtype else None
    return Question(
        id=qid,
        question=qa["question"].strip(),
        tags=["quail", *([qtype] if qtype else []), key],
        expect_abstain=impossible,
        context=key,
        options=options,
        gold_option=gold,
        qtype=qtype,
        text_based=text_based,
        line=lineno,
    )
