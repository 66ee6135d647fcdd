"""A question in its conversation: the typed text cleaned, and a follow-up rewritten to stand alone.

A follow-up ("What was laid there?") is rewritten by the model with the article in view (``prompts/condense.md``).
A small model's rewrite sometimes drops a word of the question ("What was *discussed* at …"); such a rewrite is
rejected and the previous answer is put in place of the pronoun instead ("What was laid at the Antalya
Diplomacy Forum?").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from .schema import InputError
from .synthesis import QUOTE_LEAD, short_form
from .text import content_words, stem

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
REFERENCE = re.compile(
    r"\b(?P<there>there)\b|\b(?P<that>(?:that|this|these|those)\s+[^\W\d_]+)"
    r"|\b(?P<own>his|her|its|their)\b|\b(?P<it>he|she|it|they|him|them)\b",
    re.IGNORECASE,
)
History = list[tuple[str, str]]


def clean_question(question: object, limit: int) -> str:
    """The question as text the model can read: NFC, no control characters, not empty, at most ``limit``."""
    if not isinstance(question, str):
        raise InputError("The question must be text.")
    q = CONTROL.sub(" ", unicodedata.normalize("NFC", question)).strip()
    if not q:
        raise InputError("Please type a question.")
    if len(q) > limit:
        raise InputError(f"The question is {len(q):,} characters long; the limit is {limit:,}. Please shorten it.")
    return q


def render_history(turns: History) -> str:
    return "\n".join(f"User: {u[:400]}\nAssistant: {a[:400]}" for u, a in turns)


def recent_turns(history: History, max_turns: int, budget: int, count_tokens: Callable[[str], int]) -> str:
    """The last turns, dropping the oldest until they fit ``budget`` tokens beside the prompt prefix."""
    turns = history[-max_turns:]
    while len(turns) > 1 and count_tokens(render_history(turns)) > budget:
        turns = turns[1:]
    return render_history(turns)


def accept_rewrite(question: str, rewritten: str, history: History) -> str:
    """The model's rewrite when it keeps every word of the follow-up, else the pronoun replaced in code."""
    rewritten = rewritten.strip()
    rewritten = rewritten.splitlines()[0].strip().strip('"') if rewritten else ""
    if not rewritten or len(rewritten) > 3 * len(question) + 200:
        return question
    if lost_words(question, rewritten):
        return resolve_reference(question, history[-1][1], history[-1][0])
    return rewritten


def lost_words(question: str, rewritten: str) -> list[str]:
    """Words of a follow-up that its rewrite dropped ("What was laid there?" -> "What was discussed at ...").

    The noun of "that country" may go: it is what the rewrite replaces.
    """
    kept = {stem(w) for w in content_words(rewritten)}
    replaced = {stem(w) for m in REFERENCE.finditer(question) if m.group("that") for w in content_words(m.group(0))}
    return [w for w in content_words(question) if stem(w) not in kept and stem(w) not in replaced]


def resolve_reference(question: str, previous_answer: str, previous_question: str = "") -> str:
    """Put the previous answer in place of the follow-up's first pronoun, when the model's rewrite lost words.

    A question without a pronoun is taken to stand alone already. An answer in a sentence ("Aliyev and Al-Sharaa
    met at the Antalya Diplomacy Forum") gives only what it adds to its question ("the Antalya Diplomacy Forum").
    """
    ref = re.sub(r"\s*\[\d+\]", "", previous_answer).strip().rstrip(".").strip()
    if not ref or ref.startswith(("The article does not say", QUOTE_LEAD)):  # a decline or a quote names nothing
        return question
    if previous_question:
        ref = short_form(ref, previous_question)
    ref = re.sub(r"^(The|A|An|Its|Their)\b", lambda m: m.group(0).lower(), ref)
    m = REFERENCE.search(question)
    if m is None:
        return question
    if m.group("there"):
        new = f"at {ref}"
    elif m.group("own"):
        new = f"{ref}'s"
    else:
        new = ref
    return question[: m.start()] + new + question[m.end() :]
