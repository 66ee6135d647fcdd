"""Question sets for regression testing: ``load_question_set`` for every kind, and the YAML format (validated,
errors name the line and field). SQuAD 2.0 and QuAIL JSONL files are read by ``datasets``; the types every set
shares are in ``questions``.

YAML format (one file per set, e.g. ``tests/questions/article.yaml``)::

    name: article                 # optional; default: the file name without its extension
    description: Free text.       # optional
    sources: ../../seeds          # optional; folder of source documents, relative to this file;
                                  # default: the assistant's configured seeds folder
    questions:                    # required: a list (a file may also be just this list)
      - id: sharifov-led          # required, unique in the file (text or a number)
        question: Who led the delegation to Damascus?     # required, non-empty text
        history:                  # optional: the conversation before the question, [user, assistant] pairs
          - ["Who visited Damascus?", "An Azerbaijani delegation [1]."]
        tags: [fact]              # optional: a word or a list of words (used by --tags)
        # expectations: at least one of
        expect_abstain: false     # true: it must abstain (then no must_include, reference or cite)
        must_include:             # groups of alternatives; every group must occur in the answer
          - [Sharifov]            #   (case-insensitive substring); a group may be a plain string
          - ["12", twelve]
        reference: Deputy Prime Minister Samir Sharifov   # a reference answer
        cite: led by Deputy Prime Minister Samir Sharifov # text one cited span must contain
                                  #   (a string, or a list of alternatives)
        supported: true           # every answer sentence must be supported by its own cited spans
                                  #   (the per-sentence rule of assistant.metrics; true or false)
        known_failure: why        # optional: the question is expected to fail (strict xfail)

``expect_abstain: true`` cannot be combined with ``must_include``, ``reference``, ``cite`` or ``supported:
true``. ``supported: true`` alone is enough of an expectation (an answer whose sentences are all supported;
an answer without sentences fails it). Unknown fields,
duplicate fields and duplicate ids are errors. Every problem is reported as ``file:line: question 'id' field
'name': what is wrong``, all problems of a file at once.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Hashable
from pathlib import Path

import yaml

from .datasets import is_quail_jsonl, parse_quail_jsonl, parse_squad_jsonl
from .questions import Question, QuestionSet, QuestionSetError, _Errors, _is_text, _scalar_text

YAML_SUFFIXES = {".yaml", ".yml"}
JSONL_SUFFIXES = {".jsonl"}
SET_FIELDS = ("name", "description", "sources", "questions")
QUESTION_FIELDS = (
    "id",
    "question",
    "history",
    "tags",
    "expect_abstain",
    "must_include",
    "reference",
    "cite",
    "supported",
    "known_failure",
)
EXPECTATIONS = ("expect_abstain", "must_include", "reference", "cite", "supported")


def load_question_set(path: Path | str) -> QuestionSet:
    """Read a YAML (``.yaml``/``.yml``), SQuAD or QuAIL JSONL (``.jsonl``) question set; raise QuestionSetError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise QuestionSetError(path, [f"{path}: cannot read the file ({exc.strerror or exc})"]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QuestionSetError(path, [f"{path}: not valid UTF-8 ({exc})"]) from exc
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        qset = parse_yaml_set(text, path)
    elif suffix in JSONL_SUFFIXES:
        qset = parse_quail_jsonl(text, path) if is_quail_jsonl(text) else parse_squad_jsonl(text, path)
    else:
        raise QuestionSetError(path, [f"{path}: unknown kind of question set; use .yaml/.yml or SQuAD .jsonl"])
    qset.sha256 = hashlib.sha256(raw).hexdigest()
    return qset


# -- YAML ----------------------------------------------------------------------------------------------


class _Map(dict):
    """A YAML mapping that remembers where it and each of its values start (1-based lines)."""

    line: int = 0
    value_lines: dict


class _Seq(list):
    line: int = 0
    item_lines: list


class _Loader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self.duplicates: list[tuple[object, int]] = []


def _construct_map(loader: _Loader, node: yaml.MappingNode):
    data = _Map()
    data.line = node.start_mark.line + 1
    data.value_lines = {}
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            )
        if key in data:
            loader.duplicates.append((key, key_node.start_mark.line + 1))
        data[key] = loader.construct_object(value_node, deep=True)
        data.value_lines[key] = value_node.start_mark.line + 1


def _construct_seq(loader: _Loader, node: yaml.SequenceNode):
    data = _Seq()
    data.line = node.start_mark.line + 1
    data.item_lines = [n.start_mark.line + 1 for n in node.value]
    yield data
    data.extend(loader.construct_sequence(node, deep=True))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _yaml_error(path: Path, exc: yaml.YAMLError) -> QuestionSetError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = f":{mark.line + 1}" if mark is not None else ""
    what = " ".join(str(x) for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x)
    return QuestionSetError(path, [f"{path}{line}: invalid YAML: {what or exc}"])


def parse_yaml_set(text: str, path: Path | str = "<string>") -> QuestionSet:
    """Parse and validate a YAML question set (see the module docstring for the format)."""
    path = Path(path)
    loader = _Loader(text)
    try:
        doc = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from exc
    finally:
        loader.dispose()
    errors = _Errors(path)
    for key, line in loader.duplicates:
        errors.add(line, f"field {key!r}", "appears twice in the same mapping")
    name, description, sources = path.stem, "", None
    if isinstance(doc, _Map):
        for key in doc:
            if key not in SET_FIELDS:
                errors.add(doc.value_lines[key], f"field {key!r}", _unknown(key, SET_FIELDS, "set"))
        if "name" in doc:
            if _scalar_text(doc["name"]) is None:
                errors.add(doc.value_lines["name"], "field 'name'", "must be non-empty text")
            else:
                name = _scalar_text(doc["name"])
        if "description" in doc:
            if not isinstance(doc["description"], str):
                errors.add(doc.value_lines["description"], "field 'description'", "must be text")
            else:
                description = doc["description"].strip()
        if "sources" in doc:
            if not _is_text(doc["sources"]):
                errors.add(doc.value_lines["sources"], "field 'sources'", "must be a folder path")
            else:
                sources = (path.parent / doc["sources"].strip()).resolve()
                if not sources.is_dir():
                    errors.add(doc.value_lines["sources"], "field 'sources'", f"folder {sources} does not exist")
        if "questions" not in doc:
            errors.add(doc.line, "field 'questions'", "is missing: the set needs a list of questions")
            items = None
        else:
            items = doc["questions"]
            if not isinstance(items, _Seq):
                errors.add(doc.value_lines["questions"], "field 'questions'", "must be a list of questions")
                items = None
    elif isinstance(doc, _Seq):
        items = doc
    else:
        what = "the file is empty" if doc is None else f"found {type(doc).__name__}"
        errors.add(1, "file", f"must be a mapping with a 'questions' list (or just the list); {what}")
        items = None
    questions: list[Question] = []
    if items is not None:
        if not items:
            errors.add(items.line, "field 'questions'", "is empty")
        seen: dict[str, int] = {}
        for number, (item, line) in enumerate(zip(items, items.item_lines, strict=True), start=1):
            q = _parse_question(item, line, number, errors)
            if q is None:
                continue
            if q.id in seen:
                errors.add(q.line, f"question {q.id!r} field 'id'", f"duplicate id (first used on line {seen[q.id]})")
            else:
                seen[q.id] = q.line
            questions.append(q)
    if errors.items:
        raise QuestionSetError(path, errors.items)
    return QuestionSet(name, path, "yaml", questions, description=description, sources=sources)


_BOOL_HINT = " (YAML reads a bare yes/no/on/off/true/false as a boolean: put it in quotes)"


def _unknown(key: object, allowed: tuple[str, ...], what: str) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} field{hint}; allowed: {', '.join(allowed)}"


def _parse_question(item: object, line: int, number: int, errors: _Errors) -> Question | None:
    if not isinstance(item, _Map):
        errors.add(line, f"question #{number}", "must be a mapping with at least 'id' and 'question'")
        return None
    lines = item.value_lines
    qid = _scalar_text(item.get("id"))
    label = f"question {qid!r}" if qid else f"question #{number}"
    ok = True

    def bad(key: str, message: str) -> None:
        nonlocal ok
        ok = False
        errors.add(lines.get(key, item.line), f"{label} field {key!r}", message)

    for key in item:
        if key not in QUESTION_FIELDS:
            bad(key, _unknown(key, QUESTION_FIELDS, "question"))
    if "id" not in item:
        bad("id", "is missing")
    elif qid is None:
        bad("id", "must be non-empty text or a number" + _BOOL_HINT * isinstance(item["id"], bool))
    question = item.get("question")
    if "question" not in item:
        bad("question", "is missing")
    elif not _is_text(question):
        bad("question", "must be non-empty text" + _BOOL_HINT * isinstance(question, bool))
    history = _history(item.get("history"), bad) if "history" in item else []
    tags = _words(item.get("tags"), "tags", bad) if "tags" in item else []
    expect = item.get("expect_abstain")
    if "expect_abstain" in item and not isinstance(expect, bool):
        bad("expect_abstain", "must be true or false")
        expect = None
    must = _groups(item.get("must_include"), bad) if "must_include" in item else []
    reference = item.get("reference")
    if "reference" in item and _scalar_text(reference) is None:
        bad("reference", "must be non-empty text")
    cite = _words(item.get("cite"), "cite", bad) if "cite" in item else []
    supported = item.get("supported", False)
    if "supported" in item and not isinstance(supported, bool):
        bad("supported", "must be true or false")
        supported = False
    known = item.get("known_failure")
    if "known_failure" in item and not _is_text(known):
        bad("known_failure", "must be the reason, as non-empty text")
    if not any(k in item for k in EXPECTATIONS if k != "supported") and supported is not True:
        bad("expect_abstain", f"no expectation: give at least one of {', '.join(EXPECTATIONS)}")
    if expect is True:
        for key in ("must_include", "reference", "cite"):
            if key in item:
                bad(key, "cannot be combined with expect_abstain: true")
        if supported is True:
            bad("supported", "cannot be combined with expect_abstain: true (an abstention has no sentences)")
    if not ok:
        return None
    return Question(
        id=qid,
        question=question.strip(),
        history=history,
        tags=tags,
        expect_abstain=expect,
        must_include=must,
        reference=_scalar_text(reference) if reference is not None else None,
        cite=cite,
        known_failure=known.strip() if isinstance(known, str) else None,
        supported=supported,
        line=item.line,
    )


def _history(value: object, bad) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        bad("history", "must be a list of [user, assistant] pairs")
        return []
    pairs = []
    for i, pair in enumerate(value, start=1):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            bad("history", f"turn {i} must be a [user question, assistant answer] pair of texts")
            continue
        pairs.append((pair[0], pair[1]))
    return pairs


def _words(value: object, key: str, bad) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = [_scalar_text(v) for v in items]
    if not items or any(v is None for v in out):
        bad(key, "must be non-empty text or a list of non-empty texts")
        return []
    return out


def _groups(value: object, bad) -> list[list[str]]:
    items = value if isinstance(value, list) else [value]
    groups = []
    for i, group in enumerate(items, start=1):
        alts = group if isinstance(group, list) else [group]
        texts = [_scalar_text(a) for a in alts]
        if not alts or any(t is None for t in texts):
            bad("must_include", f"group {i} must be a text or a list of alternative texts, none of them empty")
            continue
        groups.append(texts)
    if not items:
        bad("must_include", "must list at least one group")
    return groups
