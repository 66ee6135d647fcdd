"""The answer contract shared by the Python API, the CLI, the chat page and the evaluation runner."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
    sentence's own citation numbers. An abstention has no sentences.
    """

    text: str
    short: str = ""
    sentences: list[AnswerSentence] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    abstained: bool = False
    timings: dict[str, float] = Field(default_factory=dict)
    model: str = ""


class AssistantError(Exception):
    """A problem the user can fix (bad question, missing model, broken sources); its message is shown as is."""


class InputError(AssistantError):
    """The question itself is unusable (empty, too long)."""


class ModelUnavailableError(AssistantError):
    """The language model cannot be loaded or reached."""
