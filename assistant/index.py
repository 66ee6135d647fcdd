"""The vector store: passages embedded with sentence-transformers into ChromaDB, under ``index/`` or on a server.

Updates are incremental. Passage ids are content-addressed (source, offsets, text hash), so the store's own id
list is the record of what is indexed: passages that no longer exist are deleted, new ones embedded, the rest
kept. Only added, changed or removed documents cost anything, and a build cut off half-way is completed by the
next one. The embedding model and splitting settings are recorded in the collection's metadata; when they
change, the collection is rebuilt from scratch.

A fingerprint of the whole corpus is written last, after a complete update, so an unchanged corpus is opened
without even listing ids. A corrupt embedded store (unreadable database, damaged segments) is rebuilt.
A file lock beside the store keeps two processes from updating it at once.

With ``ASSISTANT_CHROMA_URL`` the same collection lives on a Chroma server (``chroma run``) reached through
Chroma's HTTP client; an unreachable server is a clear error, and requests resume when it is back.

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
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout
from tqdm import tqdm

from .config import Settings
from .documents import Document, Passage, split_corpus
from .embeddings import NAME as EMBEDDING_NAME
from .embeddings import get_embeddings
from .schema import AssistantError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
SETTINGS_KEY = "assistant_settings"
FINGERPRINT_FILE = "fingerprint.json"


def settings_key(settings: Settings) -> str:
    """What makes stored vectors incompatible: schema, embedding model, splitting."""
    payload = [SCHEMA_VERSION, EMBEDDING_NAME, settings.chunk_size, settings.chunk_overlap]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


def fingerprint(docs: list[Document], settings: Settings) -> str:
    payload = {"settings": settings_key(settings), "docs": [[d.source, d.sha256] for d in docs]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass
class Index:
    """Passages plus the Chroma store that holds their vectors."""

    passages: list[Passage]
    store: object  # langchain_chroma.Chroma or a Chroma client-backed store
    fingerprint: str
    changes: dict[str, int] = field(default_factory=dict)  # added / removed / kept passages in this update
    location: str = ""  # folder or server URL, for error messages

    @property
    def built(self) -> bool:
        """Whether this process embedded or deleted anything."""
        return bool(self.changes.get("added") or self.changes.get("removed"))

    @property
    def by_id(self) -> dict[str, Passage]:
        return {p.id: p for p in self.passages}


class StoreUnavailableError(AssistantError):
    """The Chroma server cannot be reached (down, wrong URL); retrying later may succeed."""


def server_error(settings: Settings, exc: Exception) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"The Chroma server at {settings.chroma_url} is not reachable ({type(exc).__name__}: {exc}). "
        "Start it (chroma run --path <dir> --host 127.0.0.1 --port <port>) or unset ASSISTANT_CHROMA_URL."
    )


def _client(settings: Settings, path: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    if settings.chroma_url:
        from urllib.parse import urlsplit

        url = urlsplit(settings.chroma_url)
        try:
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=ChromaSettings(anonymized_telemetry=False),
            )
        except Exception as exc:
            raise server_error(settings, exc) from exc
    chroma_settings = ChromaSettings(anonymized_telemetry=False, is_persistent=True, persist_directory=str(path))
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _chroma(settings: Settings, path: Path):
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=settings.collection,
        embedding_function=get_embeddings(settings),
        client=_client(settings, path),
        collection_metadata={"hnsw:space": "cosine", SETTINGS_KEY: settings_key(settings)},
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
    return Index(passages, store, fp, changes={"kept": len(passages)}, location=str(path))


def build_or_load(docs: list[Document], settings: Settings, progress: bool = False, force: bool = False) -> Index:
    """Open the store and bring it up to date with the corpus: embed only what was added or changed."""
    passages = split_corpus(docs, settings.chunk_size, settings.chunk_overlap)
    fp = fingerprint(docs, settings)
    if settings.chroma_url:
        return _update_server(settings, passages, fp, progress, force)
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
                return Index(passages, store, fp, changes={"kept": len(passages)}, location=str(path))
        store = None if force or not path.exists() else _open_for_update(settings, path)
        if store is None:
            if path.exists() and not force:
                log.warning("Rebuilding index at %s: the store is unreadable or was built with other settings", path)
            _wipe(path)
        try:
            (path / FINGERPRINT_FILE).unlink(missing_ok=True)  # written again only after a complete update
            store = store or _chroma(settings, path)
            changes = _sync(store, passages, progress)
            (path / FINGERPRINT_FILE).write_text(
                json.dumps({"fingerprint": fp, "passages": len(passages), "embedding": EMBEDDING_NAME})
            )
        except OSError as exc:
            raise AssistantError(f"Cannot write the index at {path}: {exc}") from exc
        return Index(passages, store, fp, changes=changes, location=str(path))
    finally:
        lock.release()


def _open_for_update(settings: Settings, path: Path):
    """The existing store when it can be read and holds vectors made with the current settings, else None."""
    try:
        store = _chroma(settings, path)
        ok = (store._collection.metadata or {}).get(SETTINGS_KEY) == settings_key(settings)
        store._collection.count()
        return store if ok else None
    except Exception:  # corrupt sqlite, missing segment files, ...
        _reset_chroma_cache()
        return None


def _wipe(path: Path) -> None:
    _reset_chroma_cache()
    try:
        path.mkdir(parents=True, exist_ok=True)
        for child in path.iterdir():  # keep the committed .gitignore and the saved model state
            if child.name not in {".gitignore", "llm-state"}:
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    except OSError as exc:
        raise AssistantError(f"Cannot rebuild the index: {path} is not writable ({exc}).") from exc


def _stored_ids(store) -> set[str]:
    ids: set[str] = set()
    page = 5000
    while True:
        got = store._collection.get(include=[], limit=page, offset=len(ids))["ids"]
        ids.update(got)
        if len(got) < page:
            return ids


def _sync(store, passages: list[Passage], progress: bool) -> dict[str, int]:
    """Make the store hold exactly these passages: delete the stale ones, embed the missing ones."""
    have = _stored_ids(store)
    want = {p.id for p in passages}
    stale = sorted(have - want)
    new = [p for p in passages if p.id not in have]
    moved = _reuse_vectors(store, new, stale)  # same text at new offsets (an edit above it): no re-embedding
    new = [p for p in new if p.id not in moved]
    for i in range(0, len(stale), 1000):
        store.delete(ids=stale[i : i + 1000])
    batch = 64
    bar = tqdm(total=len(new), desc="Embedding passages", unit="passage", disable=not progress or not new)
    for i in range(0, len(new), batch):
        chunk = new[i : i + batch]
        store.add_texts(  # an upsert: two processes adding the same passage leave one copy
            texts=[p.text for p in chunk],
            metadatas=[_metadata(p) for p in chunk],
            ids=[p.id for p in chunk],
        )
        bar.update(len(chunk))
    bar.close()
    # A moved passage counts as kept (its vector was), its old id not as removed.
    return {"added": len(new), "removed": len(stale) - len(moved), "kept": len(want) - len(new)}


def _metadata(p: Passage) -> dict:
    return {"source": p.source, "start": p.start, "end": p.end, "order": p.order}


def _reuse_vectors(store, new: list[Passage], stale: list[str]) -> set[str]:
    """Store passages whose text is already embedded under a stale id (the id ends with a text hash)."""

    def digest(pid: str) -> str:
        return pid.rsplit("-", 1)[-1]

    by_digest = {digest(sid): sid for sid in stale}
    pairs = [(p, by_digest[digest(p.id)]) for p in new if digest(p.id) in by_digest]
    if not pairs:
        return set()
    got = store._collection.get(ids=[sid for _, sid in pairs], include=["embeddings", "documents"])
    vectors = {sid: (vec, doc) for sid, vec, doc in zip(got["ids"], got["embeddings"], got["documents"], strict=True)}
    pairs = [(p, sid) for p, sid in pairs if sid in vectors and vectors[sid][1] == p.text]
    if pairs:
        store._collection.upsert(
            ids=[p.id for p, _ in pairs],
            embeddings=[vectors[sid][0] for _, sid in pairs],
            documents=[p.text for p, _ in pairs],
            metadatas=[_metadata(p) for p, _ in pairs],
        )
    return {p.id for p, _ in pairs}


def _update_server(settings: Settings, passages: list[Passage], fp: str, progress: bool, force: bool) -> Index:
    """The same update against a Chroma server; its id list is the record, so no local state is needed."""
    try:
        store = _chroma(settings, settings.index)
        if force or (store._collection.metadata or {}).get(SETTINGS_KEY) != settings_key(settings):
            store.delete_collection()
            store = _chroma(settings, settings.index)
        changes = _sync(store, passages, progress)
    except AssistantError:
        raise
    except Exception as exc:
        raise server_error(settings, exc) from exc
    return Index(passages, store, fp, changes=changes, location=str(settings.chroma_url))
