"""Shared fixtures: one real Assistant (real Chroma on disk, real embeddings, real LLM) per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "seeds" / "azerbaijan-syria.txt"
CHROMIUM = "/usr/bin/chromium"  # Debian's; a browser is never downloaded
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """The project's seeds with a private index, so tests never disturb the user's index/."""
    return Settings.from_env(root=ROOT, index_dir=tmp_path_factory.mktemp("index"))


@pytest.fixture(scope="session")
def engine(settings):
    from assistant.answering import Assistant

    return Assistant(settings)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through Playwright, headless; skipped when chromium is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
