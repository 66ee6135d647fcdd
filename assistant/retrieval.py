"""Hybrid retrieval: Chroma vector search fused with BM25 keyword search by reciprocal rank fusion.

Vectors find paraphrases; BM25 finds exact names and numbers that small embedding models blur.
BM25 is rank_bm25 used directly: LangChain's BM25Retriever wrapper lives in langchain-community, which is
being sunset, and adds nothing we need.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from rank_bm25 import BM25Okapi

from .citations import Sentence, sentences_of
from .documents import Passage
from .index import Index, StoreUnavailableError
from .text import content_words, stem


def tokenize(text: str) -> list[str]:
    """BM25 terms: content words, stemmed, so 'the' and 'who' do not outrank the words that matter."""
    return [stem(w) for w in content_words(text)]


@dataclass
class Hit:
    passage: Passage
    score: float  # fused RRF score
    similarity: float  # cosine similarity of the vector search, 0 when not found by it
    bm25_rank: int | None
    vector_rank: int | None


class HybridRetriever:
    def __init__(self, index: Index, k: int = 4, rrf_k: int = 60):
        self.index = index
        self.k = k
        self.rrf_k = rrf_k
        self._by_id = index.by_id
        self.bm25 = BM25Okapi([tokenize(p.text) for p in index.passages])

    def retrieve(self, query: str, k: int | None = None, source: str | None = None) -> list[Hit]:
        """The k best passages for the query, from every source or only from ``source``."""
        k = k or self.k
        depth = max(k * 3, 10)
        passages = self.index.passages
        ok = [i for i, p in enumerate(passages) if source is None or p.source == source]
        n = len(ok)
        if n == 0:
            return []
        where = {"source": source} if source else None
        try:
            vec = self.index.store.similarity_search_with_score(query, k=min(depth, n), filter=where)
        except Exception as exc:  # a Chroma server that went away, a store damaged while running
            raise StoreUnavailableError(
                f"The vector store at {self.index.location} did not answer ({type(exc).__name__}: {exc})."
            ) from exc
        bm = self.bm25.get_scores(tokenize(query))
        kw = [i for i in sorted(ok, key=lambda i: -bm[i]) if bm[i] > 0][:depth]
        scores: dict[str, float] = {}
        sims: dict[str, float] = {}
        vranks: dict[str, int] = {}
        branks: dict[str, int] = {}
        for rank, (doc, dist) in enumerate(vec):
            pid = doc.id
            sims[pid] = 1.0 - float(dist)
            vranks[pid] = rank
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        for rank, i in enumerate(kw):
            pid = passages[i].id
            branks[pid] = rank
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        ranked = sorted(scores, key=lambda pid: -scores[pid])[:k]
        return [
            Hit(self._by_id[pid], scores[pid], sims.get(pid, 0.0), branks.get(pid), vranks.get(pid))
            for pid in ranked
            if pid in self._by_id
        ]


_STATEMENT_END = re.compile(r"[.!\"”’)]\s*$")


class SentenceRanker:
    """The sentences of the given passages closest in meaning to a question, by the index's own embeddings.

    A reader question's answer is usually one or two sentences of a passage ("What's in it for Azerbaijan?" ->
    "For Azerbaijan, it's a chance to expand its influence beyond the South Caucasus."); the small model uses them
    far more often when they are shown beside the question (docs/quality.md). Only statements are ranked: the
    article's own questions, its title and fragments assert nothing an answer could rest on.
    """

    def __init__(self, embeddings):
        self.embeddings = embeddings
        self._vectors: dict[str, np.ndarray] = {}

    def rank(self, question: str, passages: list[Passage], k: int) -> list[str]:
        return list(dict.fromkeys(s.text for s, _ in self.closest(question, passages, k)))

    def closest(
        self, question: str, passages: list[Passage], k: int, lexical_weight: float = 0.0
    ) -> list[tuple[Sentence, float]]:
        """The ``k`` statements of ``passages`` closest to the question, each with its cosine similarity, best
        first: by similarity plus ``lexical_weight`` times the share of the question's words the sentence holds
        (a weight fitted by ``assistant calibrate`` for quotes; 0 for the sentences shown to the model)."""
        scored = self.scores(question, passages)
        scored.sort(key=lambda x: -(x[1] + lexical_weight * x[2]))
        return [(s, sim) for s, sim, _ in scored[: max(k, 0)]]

    def scores(self, question: str, passages: list[Passage]) -> list[tuple[Sentence, float, float]]:
        """Every statement of ``passages`` (a sentence repeated word for word counts once: its first occurrence)
        with its cosine similarity to the question and the share of the question's content words it holds."""
        found: dict[str, Sentence] = {}
        for s in sentences_of(passages):
            if _is_statement(s.text):
                found.setdefault(s.text, s)
        if not found:
            return []
        new = [t for t in found if t not in self._vectors]
        if new:
            self._vectors.update(zip(new, (_unit(v) for v in self.embeddings.embed_documents(new)), strict=True))
        q = _unit(self.embeddings.embed_query(question))
        terms = set(tokenize(question))
        return [
            (s, float(self._vectors[t] @ q), len(terms & set(tokenize(t))) / len(terms) if terms else 0.0)
            for t, s in found.items()
        ]


def _is_statement(sentence: str) -> bool:
    return len(sentence.split()) >= 5 and bool(_STATEMENT_END.search(sentence))


def _unit(vector) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32)
    return v / (np.linalg.norm(v) or 1.0)
