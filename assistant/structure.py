"""Questions about the text itself, answered from its structure: the headline, the first, n-th or last paragraph.

"What's the headline?" or "What does the last paragraph say?" asks where something is, not what the article
claims; the model, shown the whole article as one block, cannot count paragraphs, and retrieval ranks by meaning.
The document's layout answers them exactly: the paragraphs are found as they are in the file (blank lines), the
headline is a first paragraph that is a single line without a sentence's final stop, and a "paragraph" is one
with at least one statement (so "Comments" at the foot of a page is none). The reply quotes the text verbatim.
"""

from __future__ import annotations

import re

from .citations import Sentence, sentences_of
from .documents import Passage, split_paragraphs

_ORDINALS = {
    "first": 0, "opening": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
    "fifth": 4, "5th": 4, "sixth": 5, "6th": 5, "seventh": 6, "7th": 6,
    "last": -1, "final": -1, "closing": -1, "concluding": -1, "penultimate": -2, "second-to-last": -2,
}  # fmt: skip
_PARAGRAPH = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(_ORDINALS, key=len, reverse=True)) + r")\s+(paragraph|para)\b", re.I
)
_BEGINS = re.compile(
    r"\bhow does (the|this) (article|piece|story|text|post) (begin|start|open)\b|\bwhat does .{0,30}\bopen with\b", re.I
)
_HEADLINE = re.compile(r"\b(headline|title|heading)\b", re.IGNORECASE)
_ABOUT_TEXT = re.compile(r"\b(article|piece|story|text|post)\b", re.IGNORECASE)
_BARE_HEADLINE = re.compile(r"^\s*what('s| is) the (headline|title|heading)\s*\??\s*$", re.IGNORECASE)
NAMES = {0: "first", 1: "second", 2: "third", 3: "fourth", 4: "fifth", 5: "sixth", 6: "seventh", -1: "last",
         -2: "second-to-last"}  # fmt: skip


def ask_structure(question: str) -> tuple[str, int] | None:
    """("headline", 0) or ("paragraph", index) when the question asks for a part of the text by its place."""
    m = _PARAGRAPH.search(question)
    if m:
        return "paragraph", _ORDINALS[m.group(1).lower()]
    if _BEGINS.search(question):
        return "paragraph", 0
    if (_HEADLINE.search(question) and _ABOUT_TEXT.search(question)) or _BARE_HEADLINE.match(question):
        return "headline", 0
    return None


def paragraphs(text: str, passages: list[Passage]) -> tuple[Sentence | None, list[list[Sentence]]]:
    """The headline (or None) and the body paragraphs of one document, as its sentences."""
    sents = sentences_of(passages)
    spans = split_paragraphs(text)
    groups = [[s for s in sents if span.start <= s.span.start < span.end] for span in spans]
    headline = None
    first = groups[0] if groups else []
    if len(first) == 1 and "\n" not in first[0].text and not re.search(r"[.!?]$", first[0].text):
        headline = first[0]
        groups = groups[1:]
    body = [g for g in groups if any(len(s.text.split()) >= 5 for s in g)]
    return headline, body


def find(question: str, text: str, passages: list[Passage]) -> tuple[str, list[Sentence]] | None:
    """What a structure question points at in one document: what it is ("headline", "the last paragraph") and the
    sentences to quote; None when the question is not about the structure or the document has no such part."""
    asked = ask_structure(question)
    if asked is None:
        return None
    what, n = asked
    headline, body = paragraphs(text, passages)
    if what == "headline":
        return ("headline", [headline]) if headline is not None else None
    if -len(body) <= n < len(body):
        return f"the {NAMES.get(n, f'paragraph {n + 1}')} paragraph", body[n]
    return None
