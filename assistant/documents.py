"""Source documents and their passages, with exact character offsets into the original files.

Offsets index the text exactly as ``open(path, encoding="utf-8").read()`` returns it, so a citation's
quote can always be checked against the file. LangChain's splitters compute ``start_index`` with
``str.find`` after normalising whitespace, which can drift; paragraphs and sentences are found here with
regular expressions over the untouched text instead, so every span is a true slice.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import nlp
from .schema import AssistantError

log = logging.getLogger(__name__)

SOURCE_SUFFIXES = {".txt", ".md"}
MAX_SOURCE_BYTES = 5_000_000

# Whitespace including the non-breaking space the article uses between sentences.
_WS = " \t\r\n\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\ufeff"
_PARA_BREAK = re.compile(r"\n[ \t\u00a0\r]*\n")
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace, unless the period
# is an abbreviation's ("St. Augustine", "Rev. Elie Prioleau") or an initial's ("William E. Simon", "E.I. du Pont"),
# or the next word is in lower case.
_SENT_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=[\s\u00a0]|$)")
_INITIALS = re.compile(r"(?:[A-Z]\.)+")
_LOWER_NEXT = re.compile(r"[\s\u00a0]+[a-z]")  # "an 8 lb. largemouth bass", '"Oh?" she said'


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass
class Document:
    source: str  # path relative to the project root, forward slashes
    path: Path
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass
class Passage:
    source: str
    start: int
    end: int
    text: str
    sentences: list[Span] = field(default_factory=list)
    order: int = 0  # position in the corpus (documents sorted by path, passages by offset)

    @property
    def id(self) -> str:
        digest = hashlib.sha1(self.text.encode("utf-8")).hexdigest()[:12]
        return f"{self.source}#{self.start}-{self.end}-{digest}"


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _WS:
        start += 1
    while end > start and text[end - 1] in _WS:
        end -= 1
    return start, end


def split_paragraphs(text: str) -> list[Span]:
    spans, pos = [], 0
    for m in _PARA_BREAK.finditer(text):
        spans.append(_strip(text, pos, m.start()))
        pos = m.end()
    spans.append(_strip(text, pos, len(text)))
    return [Span(s, e) for s, e in spans if e > s]


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentences of ``text[start:end]`` as spans of ``text``; whitespace at the edges is excluded."""
    end = len(text) if end is None else end
    spans, pos = [], start
    for m in _SENT_END.finditer(text, start, end):
        if _abbreviation(text, m.start(), m.end()) or _LOWER_NEXT.match(text, m.end(), end):
            continue
        s, e = _strip(text, pos, m.end())
        if e > s:
            spans.append(Span(s, e))
        pos = m.end()
    s, e = _strip(text, pos, end)
    if e > s:
        spans.append(Span(s, e))
    return spans


def _abbreviation(text: str, start: int, end: int) -> bool:
    """Whether the single period at ``text[start:end]`` ends an abbreviation or initials rather than a sentence.

    A lone capital is an initial only after a capitalised word ("William E. Simon", "J. A. Hobson"): "… reduces
    to Y. There are …" ends a sentence."""
    if text[start:end] != ".":
        return False
    words = text[max(0, start - 40) : end].split()[-2:]  # no abbreviation is longer than "Messrs."
    word = words[-1].lstrip("\"'“‘([") if words else ""
    if len(word) == 2 and _INITIALS.fullmatch(word):
        return len(words) == 2 and words[0].lstrip("\"'“‘([")[:1].isupper()
    return bool(_INITIALS.fullmatch(word)) or word in nlp.abbreviations()


def split_passages(doc: Document, chunk_size: int = 600, chunk_overlap: int = 0) -> list[Passage]:
    """Paragraphs, with long ones packed sentence by sentence into chunks of at most ``chunk_size``."""
    text, passages = doc.text, []
    for para in split_paragraphs(text):
        sents = split_sentences(text, para.start, para.end)
        group: list[Span] = []
        for sent in sents:
            if group and sent.end - group[0].start > chunk_size:
                passages.append(_passage(doc, group))
                keep = []
                if chunk_overlap:
                    for prev in reversed(group):
                        if group[-1].end - prev.start > chunk_overlap:
                            break
                        keep.insert(0, prev)
                group = keep
            group.append(sent)
        if group:
            passages.append(_passage(doc, group))
    return passages


def _passage(doc: Document, sents: list[Span]) -> Passage:
    start, end = sents[0].start, sents[-1].end
    return Passage(doc.source, start, end, doc.text[start:end], list(sents))


def read_text(path: Path) -> str:
    """Read a source exactly as the citation contract does (universal newlines, UTF-8)."""
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_documents(seeds: Path, root: Path) -> list[Document]:
    """Every .txt/.md file under ``seeds``; unreadable files are skipped with a warning naming them."""
    if not seeds.is_dir():
        raise AssistantError(f"Source folder {seeds} does not exist: put the article(s) there as .txt or .md files.")
    docs = []
    for path in sorted(p for p in seeds.rglob("*") if p.suffix.lower() in SOURCE_SUFFIXES and p.is_file()):
        try:
            rel = path.resolve().relative_to(root).as_posix()
        except ValueError:
            rel = path.resolve().as_posix()
        try:
            if path.stat().st_size > MAX_SOURCE_BYTES:
                log.warning("Skipping %s: larger than %d bytes", rel, MAX_SOURCE_BYTES)
                continue
            text = read_text(path)
        except UnicodeDecodeError:
            log.warning("Skipping %s: not valid UTF-8", rel)
            continue
        except OSError as exc:
            log.warning("Skipping %s: %s", rel, exc)
            continue
        if text.strip(_WS):
            docs.append(Document(rel, path.resolve(), text))
        else:
            log.warning("Skipping %s: empty", rel)
    if not docs:
        raise AssistantError(f"No readable .txt or .md source documents in {seeds}.")
    return docs


def split_corpus(docs: list[Document], chunk_size: int = 600, chunk_overlap: int = 0) -> list[Passage]:
    passages = [p for d in docs for p in split_passages(d, chunk_size, chunk_overlap)]
    for i, p in enumerate(passages):
        p.order = i
    return passages
