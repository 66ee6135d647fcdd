"""Hybrid retrieval: Chroma vector search fused with BM25 keyword search by reciprocal rank fusion.

Vectors find paraphrases; BM25 finds exact names and numbers that small embedding models blur.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_community.retrievers import BM25Retriever
from langchain_core.documents import Document as LCDocument

from .documents import Passage
from .index import Index

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text.replace("’", "'"))]


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
        self.bm25 = BM25Retriever.from_documents(
            [LCDocument(page_content=p.text, metadata={"id": p.id}) for p in index.passages],
            preprocess_func=tokenize,
        )

    def retrieve(self, query: str, k: int | None = None) -> list[Hit]:
        k = k or self.k
        depth = max(k * 3, 10)
        n = len(self.index.passages)
        vec = self.index.store.similarity_search_with_score(query, k=min(depth, n))
        self.bm25.k = min(depth, n)
        kw = self.bm25.invoke(query)
        scores: dict[str, float] = {}
        sims: dict[str, float] = {}
        vranks: dict[str, int] = {}
        branks: dict[str, int] = {}
        for rank, (doc, dist) in enumerate(vec):
            pid = doc.id
            sims[pid] = 1.0 - float(dist)
            vranks[pid] = rank
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        q_terms = set(tokenize(query))
        for rank, doc in enumerate(kw):
            pid = doc.metadata["id"]
            if not q_terms & set(tokenize(doc.page_content)):
                continue  # BM25 returns every passage; only keyword matches count
            branks[pid] = rank
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        ranked = sorted(scores, key=lambda pid: -scores[pid])[:k]
        return [
            Hit(self._by_id[pid], scores[pid], sims.get(pid, 0.0), branks.get(pid), vranks.get(pid))
            for pid in ranked
            if pid in self._by_id
        ]
