"""The answer contract shared by the Python API, the CLI, the chat page and the evaluation runner."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator


class Citation(BaseModel):
    """A span of a source file. Invariant: ``quote == open(source).read()[start:end]``."""

    n: int = Field(description="Marker number used in the answer text as [n].")
    source: str = Field(description="Path of the source file relative to the project root.")
    start: int
    end: int
    quote: str


class AnswerSentence(BaseModel):
    """One sentence of an answer and the markers it carries; every answer sentence is checked on its own."""

    text: str = Field(description="The sentence as shown, without its [n] markers.")
    citations: list[int] = Field(default_factory=list, description="Marker numbers [n] of this sentence.")


class Answer(BaseModel):
    """``text`` is the reply in full sentences, each ending in its own markers ("... led the delegation [1].").

    ``short`` is the shortest form (a phrase, for SQuAD EM/F1); ``sentences`` splits ``text`` with each
    sentence's own citation numbers.

    ``status`` is how the question ended (``outcomes``): ``answered`` (written sentences, each checked against its
    citations), ``quoted`` (no checked answer, but the article's closest sentences, verbatim: ``sentences`` are those
    quotes) or ``declined`` (no sentences; the article's own open question is cited). ``abstained`` is true for
    ``quoted`` and ``declined``, so every metric defined on abstentions keeps its meaning.
    """

    text: str
    short: str = ""
    sentences: list[AnswerSentence] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    abstained: bool = False
    status: Literal["answered", "quoted", "declined"] | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    model: str = ""


    @model_validator(mode="after")
    def _status_follows_abstained(self) -> Answer:
        """An answer built without a status (older code, a test) gets the one its ``abstained`` implies."""
        if self.status is None:
            self.status = "declined" if self.abstained else "answered"
        elif self.abstained != (self.status != "answered"):
            raise ValueError(f"status {self.status!r} contradicts abstained={self.abstained}")
        return self


class AssistantError(Exception):
    """A problem the user can fix (bad question, missing model, broken sources); its message is shown as is."""


class InputError(AssistantError):
    """The question itself is unusable (empty, too long)."""


class ModelUnavailableError(AssistantError):
    """The language model cannot be loaded or reached."""
