"""What every question set holds, whatever its file format: ``Question``, ``QuestionSet`` and the error that
names every problem of a file (``QuestionSetError``), with the small checks the readers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .schema import AssistantError

NOT_ENOUGH_INFORMATION = "not enough information"


class QuestionSetError(AssistantError):
    """A question set file that cannot be used; ``errors`` lists every problem as ``file:line: ...``."""

    def __init__(self, path: Path | str, errors: list[str]):
        self.path = str(path)
        self.errors = errors
        n = len(errors)
        head = f"{path}: {n} problem{'s' if n != 1 else ''} in the question set:"
        super().__init__("\n".join([head, *(f"  {e}" for e in errors)]))


@dataclass
class Question:
    id: str
    question: str
    history: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    expect_abstain: bool | None = None  # None: not stated (answerable when it has answer expectations)
    must_include: list[list[str]] = field(default_factory=list)
    reference: str | None = None
    cite: list[str] = field(default_factory=list)
    known_failure: str | None = None
    supported: bool = False  # every answer sentence must be supported by its own citations
    answers: list[str] = field(default_factory=list)  # SQuAD gold answers (answerable SQuAD questions)
    context: str | None = None  # key into QuestionSet.contexts (SQuAD, QuAIL); None: the set's sources
    options: list[str] = field(default_factory=list)  # QuAIL: the multiple-choice options, in file order
    gold_option: str | None = None  # QuAIL: the right one of ``options``
    qtype: str | None = None  # QuAIL: the question type (Factual, Causality, ..., Unanswerable)
    text_based: bool | None = None  # QuAIL: the file's own text_based flag
    line: int = 0  # line of the question in its file

    @property
    def answerable(self) -> bool:
        return not self.expect_abstain

    @property
    def is_quail(self) -> bool:
        """A multiple-choice question, graded by the option its answer picks rather than by spans."""
        return bool(self.options)

    @property
    def is_squad(self) -> bool:
        return self.context is not None and not self.options


@dataclass
class QuestionSet:
    name: str
    path: Path
    kind: str  # "yaml", "squad" or "quail"
    questions: list[Question]
    description: str = ""
    sources: Path | None = None  # YAML: folder of sources; None: the configured seeds
    contexts: dict[str, str] = field(default_factory=dict)  # SQuAD/QuAIL: key -> the text of one source
    sha256: str = ""

    def select(
        self, tags: list[str] | None = None, limit: int | None = None, sample: int | None = None
    ) -> list[Question]:
        """Questions having any of ``tags`` (all when empty); then ``sample`` of them spread evenly over the
        set (deterministic: every len/sample-th, so every SQuAD article is covered); then the first ``limit``."""
        wanted = {t.lower() for t in tags or []}
        chosen = [q for q in self.questions if not wanted or wanted & {t.lower() for t in q.tags}]
        if sample and sample < len(chosen):
            chosen = [chosen[i * len(chosen) // sample] for i in range(sample)]
        return chosen[:limit] if limit else chosen


class _Errors:
    def __init__(self, path: Path):
        self.path = path
        self.items: list[str] = []

    def add(self, line: int, where: str, message: str) -> None:
        self.items.append(f"{self.path}:{line}: {where}: {message}")


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _scalar_text(value: object) -> str | None:
    """Text, or a number written without quotes (``12``); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return value.strip() if _is_text(value) else None
