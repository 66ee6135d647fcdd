"""Citations attached and checked in code, never trusted from the model.

The model only proposes a short answer. Here we find the source sentences that support it, number them,
and check that every number and name in the answer occurs in what is cited (or at least in the sources);
an answer that fails is dropped and the caller abstains.
"""

from __future__ import annotations

from dataclasses import dataclass

from .documents import Passage, Span
from .schema import Citation
from .text import Vocabulary, content_words, entities, names, normalize, numbers


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


def _units(text: str) -> list[tuple[str, ...]]:
    """What an answer asserts: each name as one unit ("Ahmad Al-Sharaa"), each other content word alone."""
    ents = entities(text, skip_first=False)  # an answer's first word may well be a name
    in_names = {normalize(w) for e in ents for w in e}
    rest = [(w,) for w in dict.fromkeys(content_words(text)) if w not in in_names]
    return [tuple(e) for e in ents] + rest


def select_support(answer: str, question: str, candidates: list[Sentence], max_cites: int = 2) -> list[Sentence]:
    """The fewest sentences that cover the answer's names and words, preferring those that match the question."""
    a_units = _units(answer)
    a_numbers = set() if a_units else numbers(answer)  # a bare number ("8", "6.1%") is cited where it stands
    q_terms = list(dict.fromkeys(content_words(question)))
    vocabs = [Vocabulary(s.text) for s in candidates]

    def score(i: int) -> tuple[float, int]:
        a = sum(vocabs[i].mentions(u, fuzzy=False) for u in a_units) + len(a_numbers & vocabs[i].numbers)
        q = sum(vocabs[i].has(t, fuzzy=False) for t in q_terms)
        return (-(2.0 * a + q), i)

    scored = sorted(range(len(candidates)), key=score)
    if not scored:
        return []
    chosen = [scored[0]]
    covered = {u for u in a_units if vocabs[scored[0]].mentions(u, fuzzy=False)}
    for i in scored[1:]:
        if len(chosen) >= max_cites:
            break
        new = {u for u in a_units if u not in covered and vocabs[i].mentions(u, fuzzy=False)}
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
