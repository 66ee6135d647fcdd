"""The reader's own articles: a file or pasted text made into clean UTF-8, stored beside the seeds, or removed.

Added articles are files in ``seeds/added/`` (``Settings.added``), named from their titles and never written
over; the seed articles are never written or removed. A file is written whole or not at all (a hidden
``.part`` file renamed into place), so the library on disk is always the old one or the new one. The index
follows the files: the next ``build_or_load`` embeds what a killed process left unembedded and drops what was
removed, so an add cut short is finished at the next start.

Text comes out of HTML with trafilatura (the main text, without menus, scripts and boilerplate) and out of PDF
with pypdf (its text layer; words split across lines joined again).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from .config import Settings
from .documents import SOURCE_SUFFIXES, load_documents, read_text
from .schema import InputError

KINDS = {".txt": "text", ".md": "text", ".html": "html", ".htm": "html", ".pdf": "pdf"}
MIN_WORDS = 20  # fewer words are no article to ask about (a menu, a caption, a scan's stray text)
_TITLE_UNSAFE = re.compile(r"[/\\\x00-\x1f]|^\s*\.|\.\.")


class ArticleError(InputError):
    """An article that cannot be added or removed; the message names the problem."""


@dataclass(frozen=True)
class Article:
    """A stored article: its file name (what ``--article`` and ``answer(source=…)`` take) and where it is cited."""

    name: str
    source: str
    title: str
    chars: int
    added: bool

    def __str__(self) -> str:
        return f"{self.name}\t{'added' if self.added else 'seed'}\t{self.chars:,} characters\t{self.title}"


def articles(settings: Settings) -> list[Article]:
    """Every article the assistant answers from, seeds first."""
    added = settings.added.resolve()
    out = []
    for doc in load_documents(settings.seeds, settings.root):
        is_added = doc.path.parent == added
        out.append(Article(doc.path.name, doc.source, _title(doc.text), len(doc.text), is_added))
    return sorted(out, key=lambda a: (a.added, a.name))


def text_of_file(path: Path) -> tuple[str, str | None]:
    """The clean text of an uploaded file and the title found in it (HTML, PDF metadata), or a clear error."""
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise ArticleError(
            f"{path.name}: cannot read {path.suffix or 'files without an extension'}; add a "
            f"{', '.join(sorted(KINDS))} file, or paste the text."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArticleError(f"{path.name}: cannot be read ({exc.strerror or exc}).") from exc
    if not data.strip():
        raise ArticleError(f"{path.name} is empty.")
    return {"text": _plain, "html": _html, "pdf": _pdf}[kind](data, path.name)


def _plain(data: bytes, label: str) -> tuple[str, None]:
    if b"\x00" in data:
        raise ArticleError(f"{label} is not a text file (it holds binary data).")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        raise ArticleError(f"{label} is not UTF-8 text (byte {exc.start} cannot be read).") from exc


def _html(data: bytes, label: str) -> tuple[str, str | None]:
    import trafilatura

    if b"\x00" in data:
        raise ArticleError(f"{label} is not an HTML page (it holds binary data).")
    text = trafilatura.extract(data, include_comments=False, include_tables=True, deduplicate=True)
    if not text or len(text.split()) < MIN_WORDS:
        raise ArticleError(f"{label} has no main text to read (only menus, links or scripts were found).")
    meta = trafilatura.extract_metadata(data)
    return text.replace("\n", "\n\n"), (meta.title if meta and meta.title else None)


def _pdf(data: bytes, label: str) -> tuple[str, str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise ArticleError(f"{label} is not a readable PDF ({exc}).") from exc
    text = "\n\n".join(_join_lines(p) for p in pages if p.strip())
    if len(text.split()) < MIN_WORDS:
        raise ArticleError(f"{label} has no text layer (a scanned PDF?): there is no text to read in it.")
    return text, (str(title) if title else None)


_HYPHEN_BREAK = re.compile(r"(\w)-\n(?=[a-z])")
_SENTENCE_END = re.compile(r"[.!?:;\"”’)]$")


def _join_lines(page: str) -> str:
    """A PDF page's lines joined into paragraphs: "recon-\\nstruction" is "reconstruction"; a line runs on into
    the next unless it ends a sentence or stops well short of the page's width (a headline, a paragraph's end)."""
    page = page.replace("\r\n", "\n")
    width = max((len(line.strip()) for line in page.split("\n")), default=0)  # as printed, before joining
    lines = [line.strip() for line in _HYPHEN_BREAK.sub(r"\1", page).split("\n")]
    paragraphs, current = [], []
    for line in lines:
        if line:
            current.append(line)
        if current and (not line or _SENTENCE_END.search(line) or len(line) < 0.6 * width):
            paragraphs.append(" ".join(current))
            current = []
    return "\n\n".join(paragraphs + ([" ".join(current)] if current else []))


def clean(text: str) -> str:
    """NFC, Unix newlines, no trailing spaces, at most one blank line between paragraphs."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def file_name(title: str, folder: Path) -> str:
    """A safe file name from a title, never one already taken: "Why Baku Bets" -> why-baku-bets.txt."""
    if _TITLE_UNSAFE.search(title):
        raise ArticleError(f"The title {title!r} cannot name a file: no slashes, no leading dot, no '..'.")
    slug = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", slug).strip("-")[:60].strip("-")
    if not slug:
        raise ArticleError(f"The title {title!r} has no letters or digits to name a file with.")
    name, n = f"{slug}.txt", 2
    while (folder / name).exists():
        name, n = f"{slug}-{n}.txt", n + 1
    return name


def add(source: str | Path, settings: Settings, title: str | None = None) -> Article:
    """Store an article from a file path or pasted text; a clear ``ArticleError`` and nothing stored otherwise."""
    if isinstance(source, Path):
        text, found = text_of_file(source)
        label = source.name
    else:
        text, found, label = source, None, "The pasted text"
    text = clean(text)
    if len(text.split()) < MIN_WORDS:
        empty = not text.strip()
        raise ArticleError(f"{label} is empty." if empty else f"{label} is too short to be an article.")
    if len(text) > settings.max_article_chars:
        raise ArticleError(
            f"{label} has {len(text):,} characters; the limit is {settings.max_article_chars:,} "
            "(ASSISTANT_MAX_ARTICLE_CHARS)."
        )
    title = (title or found or _title(text)).strip()
    folder = settings.added
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".add.lock"), timeout=120):
        tidy(settings)
        _refuse_duplicate(text, settings)
        name = file_name(title, folder)
        _write_whole(folder / name, text)
    path = (folder / name).resolve()
    return Article(name, _cited(path, settings), title, len(text), True)


def remove(name: str, settings: Settings) -> Article:
    """Remove an added article's file (the index drops its passages at the next ``build_or_load``)."""
    article = next((a for a in articles(settings) if name in (a.name, a.source)), None)
    if article is None:
        raise ArticleError(f"There is no article {name!r}; `assistant list` shows their names.")
    if not article.added:
        raise ArticleError(f"{article.name} is a seed article; only articles added by a reader can be removed.")
    (settings.added / article.name).unlink(missing_ok=True)
    return article


def tidy(settings: Settings) -> None:
    """Delete ``.part`` files an add left when it was killed before its file was complete."""
    if settings.added.is_dir():
        for part in settings.added.glob(".*.part"):
            part.unlink(missing_ok=True)


def _write_whole(path: Path, text: str) -> None:
    part = path.with_name(f".{path.name}.part")
    with open(part, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, path)


def _refuse_duplicate(text: str, settings: Settings) -> None:
    key = _digest(text)
    for path in sorted(p for p in settings.seeds.rglob("*") if p.suffix.lower() in SOURCE_SUFFIXES and p.is_file()):
        try:
            if _digest(read_text(path)) == key:
                raise ArticleError(f"This text is already stored, as {path.name}.")
        except (OSError, UnicodeDecodeError):
            continue


def _digest(text: str) -> str:
    return hashlib.sha256(" ".join(unicodedata.normalize("NFC", text).split()).encode()).hexdigest()


def _title(text: str) -> str:
    """The first line, as a headline usually is; at most twelve words."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    words = first.split()
    return " ".join(words[:12]) + (" …" if len(words) > 12 else "")


def _cited(path: Path, settings: Settings) -> str:
    try:
        return path.relative_to(settings.root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
