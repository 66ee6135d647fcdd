"""Citations attached and checked in code, never trusted from the model.

The model only proposes a short answer. Here we find the source sentences that support it, number them,
and check that every number and name in the answer occurs in what is cited (or at least in the sources);
an answer that fails is dropped and the caller abstains.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

from .documents import Passage, Span
from .schema import Citation

STOPWORDS = set(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off
    on once only or other our ours out over own same she should so some such than that the their theirs them then
    there these they this those through to too under until up very was we were what when where which while who whom
    whose why will with would you your yours yourself also according article text say says said tell told does did
    mentioned mention describe described give many much kind type any one ones s t according per via
    """.split()
)
QUESTION_WORDS = {"who", "what", "when", "where", "why", "how", "which", "whom", "whose"}
GENERIC_CAPS = {"the", "a", "an", "it", "he", "she", "they", "yes", "no", "this", "that", "in", "on", "i", "its"}

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "hundred": "100",
}  # fmt: skip


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")
    return text.lower()


def words(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(normalize(text)):
        w = re.sub(r"'s$", "", w)
        out.append(w)
    return out


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and w not in QUESTION_WORDS and len(w) > 1]


def numbers(text: str) -> set[str]:
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    found |= {_NUMBER_WORDS[w] for w in words(text) if w in _NUMBER_WORDS}
    return found


def names(text: str) -> list[str]:
    """Capitalised words that are not sentence starters or pronouns: the proper names of a text."""
    out = []
    for m in _WORD.finditer(unicodedata.normalize("NFKC", text)):
        w = m.group(0)
        if w[:1].isupper() and w.lower() not in GENERIC_CAPS and w.lower() not in QUESTION_WORDS:
            out.append(re.sub(r"['’]s$", "", w))
    return out


def _stem(w: str) -> str:
    for suf in ("ations", "ation", "ing", "ies", "ied", "ed", "es", "s", "ly"):
        if len(w) > len(suf) + 3 and w.endswith(suf):
            return w[: -len(suf)]
    return w


class Vocabulary:
    """Word forms of a text, for tolerant membership tests (plurals, tenses, small typos)."""

    def __init__(self, text: str):
        self.words = set(words(text))
        self.stems = {_stem(w) for w in self.words}
        self.numbers = numbers(text)

    def has(self, word: str, fuzzy: bool = True) -> bool:
        w = normalize(word)
        if w in self.words or _stem(w) in self.stems:
            return True
        if w.isdigit() or w in _NUMBER_WORDS:
            return (_NUMBER_WORDS.get(w, w)) in self.numbers
        if fuzzy and len(w) >= 5:
            return any(abs(len(v) - len(w)) <= 2 and SequenceMatcher(None, v, w).ratio() >= 0.84 for v in self.words)
        return False

    def coverage(self, terms: list[str], fuzzy: bool = True) -> float:
        if not terms:
            return 1.0
        return sum(self.has(t, fuzzy) for t in terms) / len(terms)


@dataclass
class Sentence:
    source: str
    span: Span
    text: str
    passage: Passage


def sentences_of(passages: list[Passage]) -> list[Sentence]:
    return [
        Sentence(p.source, s, p.text[s.start - p.start : s.end - p.start], p) for p in passages for s in p.sentences
    ]


def _overlap(terms: list[str], vocab: Vocabulary) -> float:
    return sum(vocab.has(t, fuzzy=False) for t in terms)


def select_support(answer: str, question: str, candidates: list[Sentence], max_cites: int = 2) -> list[Sentence]:
    """The fewest sentences that cover the answer's terms, preferring those that also match the question."""
    a_terms = list(dict.fromkeys(content_words(answer)))
    q_terms = list(dict.fromkeys(content_words(question)))
    vocabs = [Vocabulary(s.text) for s in candidates]
    scored = sorted(
        range(len(candidates)),
        key=lambda i: (-(2.0 * _overlap(a_terms, vocabs[i]) + _overlap(q_terms, vocabs[i])), i),
    )
    if not scored:
        return []
    chosen = [scored[0]]
    covered = {t for t in a_terms if vocabs[scored[0]].has(t, fuzzy=False)}
    for i in scored[1:]:
        if len(chosen) >= max_cites:
            break
        new = {t for t in a_terms if t not in covered and vocabs[i].has(t, fuzzy=False)}
        if new:
            chosen.append(i)
            covered |= new
    return [candidates[i] for i in sorted(chosen, key=lambda i: (candidates[i].source, candidates[i].span.start))]


@dataclass
class Check:
    ok: bool
    reason: str = ""


def verify(answer: str, cited: str, corpus: Vocabulary, min_support: float = 0.6) -> Check:
    """Every number and name of the answer must be in the cited text or the sources; most words in the cited text."""
    cited_vocab = Vocabulary(cited)
    for num in numbers(answer):
        if num not in cited_vocab.numbers and num not in corpus.numbers:
            return Check(False, f"number {num} is not in the article")
    for name in names(answer):
        if not cited_vocab.has(name, fuzzy=False) and not corpus.has(name, fuzzy=False):
            return Check(False, f"name {name} is not in the article")
    terms = content_words(answer)
    if not terms:
        return Check(False, "empty answer")
    support = cited_vocab.coverage(terms, fuzzy=False)
    if support < min_support:
        return Check(False, f"only {support:.0%} of the answer's words are in the cited text")
    return Check(True)


def make_citations(support: list[Sentence], read_source) -> list[Citation]:
    """Number supporting sentences [1], [2] ... in order; the quote is sliced from the original file."""
    cites = []
    for n, s in enumerate(support, start=1):
        text = read_source(s.source)
        cites.append(
            Citation(n=n, source=s.source, start=s.span.start, end=s.span.end, quote=text[s.span.start : s.span.end])
        )
    return cites
