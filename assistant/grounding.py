"""Ground every sentence of the model's reply in the article, or drop it.

The model writes sentences; it never writes citations. Each finished sentence is checked here on its own:
the article sentences that support it are found, and the sentence is kept only when every number and name
in it occurs in those sentences, most of its content words do, and what it pairs (a person and a role, a
number and what it counts, the holder of the office the question asks about) one cited sentence pairs too
(``claims``). A sentence that fails is dropped and the
rest of the answer stays; an answer with no sentence left is a decline. The article's own questions
("Will this partnership evolve into a long-term alliance?") never count as support: they assert nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from . import documents
from .citations import Sentence, select_support
from .claims import unpaired
from .documents import Passage
from .kinds import Kind
from .text import STOPWORDS, Vocabulary, content_words, entities, numbers, stem

DECLINE = re.compile(
    r"not in (the )?article|does(n't| not) (say|state|mention|specify|provide|explain|give|answer)"
    r"|not (mentioned|specified|stated|provided|explained|given)|no information|(is|are) not (clear|known)"
    r"|cannot (be )?(determine|answer|find|say)|can't (determine|answer|say)|i don't know|unknown",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_LABEL = re.compile(r"^\s*(answer|a|summary|explanation)\s*:\s*", re.IGNORECASE)
POLARITY = re.compile(r"^\s*(yes|no)\b[\s,.;:!—–-]*", re.IGNORECASE)
_MODAL = re.compile(r"\b(will|would|could|might|shall|may)\b", re.IGNORECASE)
_YES_NO = re.compile(r"^(but |and |so )?(is|are|was|were|do|does|did|has|have|can|could|will|would|should)\b", re.I)
MIN_SUPPORT = 0.5  # "most" of a sentence's content words must be in its cited sentences: more than half
ECHO = "the sentence only repeats the question"


@dataclass
class Claim:
    """One sentence of the reply, the article sentences that support it, and why it was dropped (None: kept)."""

    text: str
    support: list[Sentence] = field(default_factory=list)
    reason: str | None = None

    @property
    def kept(self) -> bool:
        return self.reason is None


_LEAD_IN = re.compile(
    r"^(according to the article,?|the article (states|says|mentions|notes|suggests|explains|reports|highlights)"
    r"( that|:|,)|in the article,)\s+",
    re.IGNORECASE,
)


def clean_reply(raw: str) -> str:
    """The reply as plain prose: no "Answer:" label, bullets joined as sentences, quotes trimmed."""
    lines = []
    for line in raw.strip().splitlines():
        line = _LABEL.sub("", _BULLET.sub("", line)).strip().strip('"“”')
        if line:
            lines.append(line if line[-1] in ".!?:;," else line + ".")
    return " ".join(lines)


def plain(sentence: str) -> str:
    """A sentence without a lead-in that asserts nothing ("The article states that ..."), capitalised."""
    body = _LEAD_IN.sub("", sentence.strip()).strip()
    if body[:1] in "\"“" and not re.search(r"[\"”]", body[1:-1]):  # a quoted sentence: the quote marks go
        body = body[1:].rstrip().rstrip("\"”").rstrip()
    return body[:1].upper() + body[1:] if body != sentence.strip() else body


def split_sentences(text: str) -> list[str]:
    """A reply's sentences, split as the article's are (``documents.split_sentences``: "William E. Simon" and
    "St. Augustine" stay whole)."""
    return [text[s.start : s.end] for s in documents.split_sentences(text)]


def finished_sentences(buffer: str) -> tuple[list[str], str]:
    """Sentences complete in a streaming buffer, and the unfinished rest (to be continued by later tokens)."""
    parts = split_sentences(clean_reply(buffer)) if buffer.strip() else []
    if len(parts) <= 1:
        return [], buffer
    done = parts[:-1]
    rest = buffer
    for s in done:  # cut what was finished from the raw buffer, keeping its unfinished tail as written
        i = rest.find(s[-12:])
        if i >= 0:
            rest = rest[i + len(s[-12:]) :]
    return done, rest


def is_question(s: Sentence) -> bool:
    return s.text.rstrip(" \"”’)").endswith("?")


def statements(passages: list[Passage]) -> list[Sentence]:
    """The article sentences that may support an answer: every sentence but the article's own questions."""
    from .citations import sentences_of

    return [s for s in sentences_of(passages) if not is_question(s)]


def open_question(question: str, passages: list[Passage]) -> Sentence | None:
    """The article's own speculative question that the reader's question asks again, if any.

    "But how will other regional players react?" ends a paragraph and is never answered; a reader asking
    "How will other countries in the region react?" should hear that, with the article's sentence cited.
    Only questions about what will or could happen, and yes/no questions ("Is this the start of a new
    strategy?"), count: a wh-question the article poses in order to answer it ("what's in it for
    Azerbaijan?") is answered from the sentences after it.
    """
    from .citations import sentences_of

    asked = {stem(w) for w in content_words(question)}
    if not asked:
        return None
    best, best_score = None, 0.0
    for s in sentences_of(passages):
        if not is_question(s):
            continue
        tail = re.split(r"[—–:]|\s-\s", s.text)[-1].strip()  # "The big question now is: Who will follow ...?"
        if not _MODAL.search(tail) and not _YES_NO.match(tail):
            continue
        theirs = {stem(w) for w in content_words(tail)}
        shared = sum(any(_alike(a, t) for t in theirs) for a in asked)
        score = min(shared / len(asked), shared / max(1, len(theirs)))  # both ways: the same question
        if shared >= min(2, len(theirs)) and score > best_score:
            best, best_score = s, score
    return best if best_score >= 0.5 else None


def relevance(question: str, support: list[Sentence]) -> float:
    """Share of the question's content words that the cited sentences contain: is this about what was asked?"""
    asked = content_words(re.sub(r"\bhow (long|many|much|far|old|often|soon)\b", " ", question, flags=re.I))
    if not asked or not support:
        return 1.0 if not asked else 0.0
    cited = {stem(w) for w in Vocabulary(" ".join(s.text for s in support)).words}
    return sum(any(_alike(stem(w), c) for c in cited) for w in asked) / len(asked)


def mentioned(vocab: Vocabulary, word: str) -> bool:
    """Whether a text uses the word in some form ("relationship" for "relations")."""
    return vocab.has(word) or _in(vocab, word.lower())


def _in(vocab: Vocabulary, word: str) -> bool:
    """In the cited words as a word, a stem, or a form sharing its first six letters ("recover"/"recovery")."""
    if vocab.has(word, fuzzy=False):
        return True
    return len(word) >= 6 and any(len(v) >= 6 and v[:6] == word[:6] for v in vocab.words)


def _alike(a: str, b: str) -> bool:
    """Same stem, or the same first five letters ("countries"/"country", "regional"/"region")."""
    return a == b or (len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5])


def ground(text: str, question: str, candidates: list[Sentence], corpus: Vocabulary, max_cites: int = 2) -> Claim:
    """Find the support of one answer sentence and check it; the claim's ``reason`` says why it was dropped."""
    body = plain(POLARITY.sub("", text))  # "No — the article says ..." asserts what follows the "No"
    trimmed = trim_foreign(body, corpus)  # "Antalya Diplomacy Forum banana": an injected word at an end goes
    if trimmed != body:
        text, body = text.replace(body, trimmed) if body in text else trimmed, trimmed
    claim = Claim(text)
    terms = content_words(body)
    if DECLINE.search(text):
        claim.reason = "the sentence says the article does not give the answer"
    elif text.rstrip(" \"”’)").endswith("?"):
        claim.reason = "the sentence is a question"
    elif not terms and not numbers(body):  # a bare number ("8", "6.1%") is checked as a number
        claim.reason = "the sentence has no content words"
    elif terms and {stem(w) for w in terms} <= {stem(w) for w in content_words(question)}:
        claim.reason = ECHO
    else:
        claim.support = select_support(body, question, candidates, max_cites=max_cites)
        claim.reason = unsupported(body, claim.support, corpus, question)
    return claim


def trim_foreign(text: str, corpus: Vocabulary) -> str:
    """Drop lower-case words the sources never use from the ends of a sentence (at most two), keeping its end mark.

    A foreign word in the middle is left to the support check; a foreign *name* is never cut.
    """
    end = text.rstrip()[-1:] if text.rstrip()[-1:] in ".!?" else ""
    tokens = text.rstrip(" .!?").split()
    if not tokens:  # "Yes." once its polarity is set aside
        return text

    def foreign(tok: str) -> bool:
        ws = content_words(tok)
        return bool(ws) and tok[:1].islower() and not all(_in(corpus, w) for w in ws)

    kept = list(tokens)
    while len(kept) > 1 and foreign(kept[-1]):
        kept.pop()
    while len(kept) > 1 and foreign(kept[0]):
        kept.pop(0)
    dangling = kept[-1].strip(",;:").lower() in STOPWORDS  # "… between the [two countries]" would lose its object
    if kept == tokens or len(tokens) - len(kept) > 2 or dangling or not content_words(" ".join(kept)):
        return text
    return " ".join(kept).rstrip(" ,;:") + end


def unsupported(text: str, support: list[Sentence], corpus: Vocabulary, question: str = "") -> str | None:
    """Why the cited sentences do not support ``text`` (None when they do).

    Names may differ in form only ("Syrian" for "Syria's"); a capitalised first word that the article uses in
    lower case ("With", "Meanwhile") is no name. Words of the question itself are not counted as invented.
    """
    if not support:
        return "no article sentence supports it"
    cited = Vocabulary(" ".join(s.text for s in support))
    for num in sorted(numbers(text)):
        if num not in cited.numbers:
            return f"the number {num} is not in the cited sentences"
    for name in entities(text, skip_first=False):  # "Ahmad Al-Sharaa" is cited by "Al-Sharaa" (half its words)
        words_ = [w for w in name if not (w.lower() in STOPWORDS or w.lower() in corpus.lower_words)]
        if words_ and not cited.mentions(words_, fuzzy=True):
            return f"the name {' '.join(words_)} is not in the cited sentences"
    terms = content_words(text)
    if not terms:  # a bare number, in the cited sentences: what it counts is the claim check's to judge
        return unpaired(text, [s.text for s in support], question)
    asked = {stem(w) for w in content_words(question)}
    foreign = [w for w in terms if not _in(corpus, w) and stem(w) not in asked]
    share = sum(_in(cited, w) for w in terms) / len(terms)
    if share <= MIN_SUPPORT:
        return f"only {share:.0%} of its words are in the cited sentences"
    if len(foreign) > (len(terms) - 1) // 4:  # a paraphrase may add a common word; "... Forum banana" may not
        return f"it uses words the article never uses: {', '.join(foreign)}"
    return unpaired(text, [s.text for s in support], question)  # true words joined into a false claim


def ground_stream(pieces: Iterator[str], question: str, kind: Kind, passages: list[Passage], corpus: Vocabulary,
                  out: list[Claim]) -> Iterator[tuple[str, object]]:  # fmt: skip
    """Ground each sentence as soon as the model finishes it: yields ("token", piece) and ("claim", Claim).

    Every sentence written is appended to ``out``, kept or dropped. Once the kind's number of sentences is kept
    the model is stopped (``pieces.close()``, which also frees its lock). A yes/no sentence that fails ("No,
    Baku is not following Turkey's line.") lends its "No" to the next kept one ("No — Baku appears to be …").
    """
    candidates = statements(passages)
    buffer, seen, polarity = "", set(), []

    def enough() -> bool:
        return len([c for c in out if c.kept]) >= kind.max_sentences

    def check(text: str) -> Claim | None:
        key = " ".join(content_words(text))
        if key in seen or enough():
            return None
        seen.add(key)
        claim = ground(plain(text), question, candidates, corpus, max_cites=3)
        said = POLARITY.match(text)
        if kind.name == "yesno" and said and not claim.kept:
            polarity.append(said.group(1).capitalize())
        elif polarity and claim.kept and not said:
            claim.text = f"{polarity.pop()} — {_decapitalize(claim.text)}"
        out.append(claim)
        return claim

    for piece in pieces:
        if enough():
            getattr(pieces, "close", lambda: None)()
            break
        yield "token", piece
        buffer += piece
        done, buffer = finished_sentences(buffer)
        for text in done:
            claim = check(text)
            if claim is not None:
                yield "claim", claim
    for text in split_sentences(clean_reply(buffer)):
        claim = check(text)
        if claim is not None:
            yield "claim", claim


def _decapitalize(text: str) -> str:
    first = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if first.lower() in STOPWORDS else text
