"""The Chroma store on disk: reused when unchanged, rebuilt when the corpus changes or the store is damaged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.documents import load_documents
from assistant.index import FINGERPRINT_FILE, build_or_load
from assistant.retrieval import HybridRetriever, SentenceRanker

from .conftest import ARTICLE


@pytest.fixture()
def corpus(tmp_path) -> Settings:
    (tmp_path / "seeds").mkdir()
    shutil.copy(ARTICLE, tmp_path / "seeds" / "article.txt")
    return Settings.from_env(root=tmp_path)


def _open(s: Settings):
    return build_or_load(load_documents(s.seeds, s.root), s)


def test_second_start_does_not_reembed(corpus, monkeypatch):
    first = _open(corpus)
    assert first.built
    import assistant.index as index_mod

    calls = []
    real = index_mod._sync
    monkeypatch.setattr(index_mod, "_sync", lambda *a, **k: calls.append(a) or real(*a, **k))
    second = _open(corpus)
    assert not second.built and calls == []
    assert second.store._collection.count() == len(second.passages)


def test_changed_seed_triggers_reindex(corpus):
    first = _open(corpus)
    path = corpus.seeds / "article.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n\nThe Caspian Sea lies east of Baku.\n", encoding="utf-8")
    second = _open(corpus)
    assert second.built and second.fingerprint != first.fingerprint
    assert second.changes == {"added": 1, "removed": 0, "kept": len(first.passages)}  # only the new passage
    hits = HybridRetriever(second, k=2).retrieve("Which sea lies east of Baku?")
    assert "Caspian" in hits[0].passage.text
    (corpus.seeds / "more.md").write_text("A second document about tea.", encoding="utf-8")
    third = _open(corpus)
    assert third.built and {p.source for p in third.passages} == {"seeds/article.txt", "seeds/more.md"}
    assert third.changes == {"added": 1, "removed": 0, "kept": len(second.passages)}


def test_index_updates_are_incremental(corpus, monkeypatch):
    """Only added or changed documents are embedded; removed ones leave the store; settings changes rebuild."""
    (corpus.seeds / "tea.md").write_text("Tea grows in Lankaran.\n\nLankaran lies in the south.", encoding="utf-8")
    first = _open(corpus)
    article = [p for p in first.passages if p.source == "seeds/article.txt"]
    import assistant.index as index_mod

    embedded: list[str] = []
    cls = type(index_mod.get_embeddings())
    original = cls.embed_documents

    def spy(self, texts):
        embedded.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(cls, "embed_documents", spy)
    (corpus.seeds / "tea.md").write_text(
        "Tea grows in Lankaran and Astara.\n\nLankaran lies in the south.", encoding="utf-8"
    )
    second = _open(corpus)
    assert embedded == ["Tea grows in Lankaran and Astara."]  # the unchanged paragraph and article are kept
    assert second.changes == {"added": 1, "removed": 1, "kept": len(article) + 1}
    hits = HybridRetriever(second, k=1).retrieve("Where does tea grow?")
    assert "Astara" in hits[0].passage.text
    (corpus.seeds / "tea.md").unlink()
    third = _open(corpus)
    assert third.changes == {"added": 0, "removed": 2, "kept": len(article)}
    assert third.store._collection.count() == len(article)
    assert set(third.store._collection.get(include=[])["ids"]) == {p.id for p in article}
    embedded.clear()
    resplit = _open(corpus.model_copy(update={"chunk_size": 300}))  # other splitting: vectors rebuilt from scratch
    assert resplit.changes["kept"] == 0 and resplit.changes["added"] == len(resplit.passages) == len(embedded)


@pytest.mark.parametrize("damage", ["garbage_sqlite", "delete_sqlite", "half_written", "truncate_all"])
def test_corrupt_index_is_rebuilt(corpus, damage):
    first = _open(corpus)
    idx = corpus.index
    sqlite = idx / "chroma.sqlite3"
    from assistant.index import _reset_chroma_cache

    _reset_chroma_cache()
    if damage == "garbage_sqlite":
        sqlite.write_bytes(b"this is not a database" * 100)
    elif damage == "delete_sqlite":
        sqlite.unlink()
    elif damage == "half_written":  # a build cut off half-way: no fingerprint yet, some passages not stored
        store = _open(corpus).store
        ids = store._collection.get(include=[])["ids"]
        store.delete(ids=ids[: len(ids) // 2])
        _reset_chroma_cache()
        (idx / FINGERPRINT_FILE).unlink()
    else:
        for f in Path(idx).rglob("*"):
            if f.is_file():
                f.write_bytes(f.read_bytes()[:10])
    again = _open(corpus)
    assert again.built
    assert again.store._collection.count() == len(first.passages)
    hits = HybridRetriever(again, k=1).retrieve("Who led the Azerbaijani delegation to Damascus?")
    assert "Sharifov" in hits[0].passage.text


def test_retrieval_is_hybrid(corpus):
    idx = _open(corpus)
    r = HybridRetriever(idx, k=3)
    hits = r.retrieve("Antalya Diplomacy Forum")
    assert "Antalya" in hits[0].passage.text and hits[0].bm25_rank == 0
    para = r.retrieve("Which country's oil and gas know-how could help rebuild Syria's power industry?")
    assert any("oil and gas" in h.passage.text for h in para)
    assert len(r.retrieve("delegation", k=2)) == 2


def test_sentences_are_ranked_by_meaning_and_only_statements_count(corpus):
    """The evidence a reader question is shown: its answer sentence near the top, by the index's real embeddings,
    though it shares few words with the question; the article's questions and its title never."""
    idx = _open(corpus)
    ranker = SentenceRanker(idx.store.embeddings)
    top = ranker.rank("What's in it for Azerbaijan?", idx.passages, 3)
    assert len(top) == 3 and any("expand its influence beyond the South Caucasus" in s for s in top), top
    assert ranker.rank("Who gave Syria humanitarian aid?", idx.passages, 1) == [
        "Azerbaijan has also provided humanitarian aid to Syria, further solidifying its commitment."
    ]
    every = ranker.rank("Will the partnership become an alliance?", idx.passages, 100)
    text = ARTICLE.read_text(encoding="utf-8")
    assert every and all(s in text and not s.endswith("?") for s in every)
    assert not any(s.startswith("Azerbaijan’s Bold Move") for s in every)  # the title asserts nothing
    assert ranker.rank("anything", [], 3) == [] and ranker.rank("anything", idx.passages, 0) == []
