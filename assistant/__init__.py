"""Offline chat assistant that answers questions about an article with grounded citations."""

from .config import Settings
from .library import Article, ArticleError
from .schema import Answer, AnswerSentence, AssistantError, Citation, InputError, ModelUnavailableError

__all__ = [
    "Answer",
    "AnswerSentence",
    "Article",
    "ArticleError",
    "Assistant",
    "AssistantError",
    "Citation",
    "InputError",
    "ModelUnavailableError",
    "Settings",
    "answer",
]


def __getattr__(name):
    # Heavy imports (torch, chromadb, llama.cpp) only when the engine is first used.
    if name in {"Assistant", "answer", "default_assistant"}:
        from . import answering

        return getattr(answering, name)
    raise AttributeError(name)
