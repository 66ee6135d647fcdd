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


class Answer(BaseModel):
    text: str
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
