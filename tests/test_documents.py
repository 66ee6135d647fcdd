"""Passages and sentences are exact slices of the original text, whatever the text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.documents import Document, load_documents, split_corpus, split_passages, split_sentences
from assistant.schema import AssistantError

from .conftest import ARTICLE, ROOT

ALPHABET = st.sampled_from(list("ab AZ.!?\n\u00a0’“”'\"\t,;:0-9é…") + ["\n\n", ". ", "\u00a0\n"])
TEXTS = st.lists(ALPHABET, max_size=400).map("".join)


def _check(text: str, chunk_size: int, overlap: int = 0) -> None:
    doc = Document("seeds/x.txt", Path("x.txt"), text)
    passages = split_passages(doc, chunk_size, overlap)
    for p in passages:
        assert text[p.start : p.end] == p.text
        assert p.text == p.text.strip(" \t\r\n\u00a0") and p.text
        for s in p.sentences:
            assert p.start <= s.start < s.end <= p.end
    # Nothing but whitespace is lost between passages.
    covered = set()
    for p in passages:
        covered.update(range(p.start, p.end))
    lost = "".join(ch for i, ch in enumerate(text) if i not in covered)
    assert lost.strip(" \t\r\n\u00a0\ufeff") == ""


@given(TEXTS, st.integers(min_value=1, max_value=300))
@settings(max_examples=300, deadline=None)
def test_passage_offsets_are_exact_slices(text, chunk_size):
    _check(text, chunk_size)


@given(TEXTS, st.integers(min_value=20, max_value=300), st.integers(min_value=0, max_value=100))
@settings(max_examples=150, deadline=None)
def test_offsets_hold_with_overlap(text, chunk_size, overlap):
    _check(text, chunk_size, overlap)


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_sentences_of_arbitrary_unicode_are_exact(text):
    for s in split_sentences(text):
        assert 0 <= s.start < s.end <= len(text)
        assert text[s.start : s.end].strip() != "" or text[s.start : s.end] != ""


def test_article_passages_keep_curly_quotes_and_nbsp():
    text = ARTICLE.read_text(encoding="utf-8")
    assert "\u00a0" in text and "’" in text
    docs = load_documents(ROOT / "seeds", ROOT)
    passages = split_corpus(docs)
    assert len(passages) >= 6
    for p in passages:
        assert text[p.start : p.end] == p.text
    sentence = next(
        text[s.start : s.end] for p in passages for s in p.sentences if "Samir Sharifov" in text[s.start : s.end]
    )
    assert sentence.startswith("A high-level delegation led by Deputy Prime Minister Samir Sharifov")
    assert len({p.id for p in passages}) == len(passages)
    assert [p.id for p in split_corpus(load_documents(ROOT / "seeds", ROOT))] == [p.id for p in passages]


def test_broken_and_missing_sources(tmp_path, caplog):
    with pytest.raises(AssistantError, match="does not exist"):
        load_documents(tmp_path / "nope", tmp_path)
    (tmp_path / "seeds").mkdir()
    with pytest.raises(AssistantError, match="No readable"):
        load_documents(tmp_path / "seeds", tmp_path)
    (tmp_path / "seeds" / "bad.txt").write_bytes(b"\xff\xfe\xfa not utf8 \x80")
    (tmp_path / "seeds" / "good.md").write_text("Hello there. General Kenobi.", encoding="utf-8")
    docs = load_documents(tmp_path / "seeds", tmp_path)
    assert [d.source for d in docs] == ["seeds/good.md"]
    assert "bad.txt" in caplog.text


def test_abbreviations_and_initials_end_no_sentence():
    """SQuAD's texts: "William E. | Simon" cut the answer's name in two, so no sentence named him with his office."""
    text = (
        "In 1973, Nixon named William E. Simon as the first Administrator. In 1685, Rev. Elie Prioleau settled "
        "at St. Augustine with the U.S. Army, e.g. its officers. For example, E.I. du Pont was there. We say that "
        "X reduces to Y. There are many reductions! Are there? Yes. I caught an 8 lb. largemouth bass. 'Oh?' she said."
    )
    got = [text[s.start : s.end] for s in split_sentences(text)]
    assert got == [
        "In 1973, Nixon named William E. Simon as the first Administrator.",
        "In 1685, Rev. Elie Prioleau settled at St. Augustine with the U.S. Army, e.g. its officers.",
        "For example, E.I. du Pont was there.",
        "We say that X reduces to Y.",
        "There are many reductions!",
        "Are there?",
        "Yes.",
        "I caught an 8 lb. largemouth bass.",  # no sentence starts in lower case
        "'Oh?' she said.",
    ]
