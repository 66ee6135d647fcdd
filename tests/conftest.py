"""Shared fixtures: one real Assistant (real Chroma on disk, real embeddings, real LLM) per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "seeds" / "azerbaijan-syria.txt"


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """The project's seeds with a private index, so tests never disturb the user's index/."""
    return Settings.from_env(root=ROOT, index_dir=tmp_path_factory.mktemp("index"))


@pytest.fixture(scope="session")
def engine(settings):
    from assistant.answering import Assistant

    return Assistant(settings)
