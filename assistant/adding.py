"""The chat page's handlers for the reader's own articles: add one (a file or pasted text), remove one.

``ui`` lays out the "Add an article" panel and wires it here; the work is ``Assistant.add`` / ``remove``. An add
runs in a thread so that its progress lines ("Reading …", "indexing …", "Ready") reach the page as they happen.
"""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path

import gradio as gr

from .rendering import ALL_ARTICLES, render_article
from .schema import AssistantError

TICK = 0.2  # seconds between looks at a running add's progress


class LibraryHandlers:
    """Add and remove articles through ``engine`` (an ``Assistant``); one add or remove at a time."""

    def __init__(self, engine):
        self.engine = engine
        self._lock = threading.Lock()

    def sources(self) -> list[str]:
        return [d.source for d in self.engine.documents]

    def added(self) -> list[str]:
        return [a.name for a in self.engine.articles() if a.added]

    def removable(self):
        """The added articles as they are now, for the "Remove" list of a page just opened."""
        return gr.update(choices=self.added(), value=None)

    def add(self, file: str | None, text: str, title: str, state: dict):
        """Yields (progress, picker, article pane, state, remove list, file, text, title) as the add goes on."""
        if not file and not (text or "").strip():
            yield _line("Choose a file or paste the text of an article first.", error=True), *_same(2), state, *_same(4)
            return
        given = Path(file) if file else text
        yield _line("Starting …"), *_same(2), state, *_same(4)  # the last add's line goes at once
        lines: list[str] = []
        result: dict = {}

        def work() -> None:
            with self._lock:
                try:
                    named = (title or "").strip() or None
                    result["article"] = self.engine.add(given, title=named, progress=lines.append)
                except AssistantError as exc:
                    result["error"] = str(exc)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        shown = 0
        while worker.is_alive() or shown < len(lines):
            if shown < len(lines):
                shown = len(lines)
                yield _line(lines[-1]), *_same(2), state, *_same(4)
            time.sleep(TICK)
        worker.join()
        if "error" in result:
            yield _line(result["error"], error=True), *_same(2), state, *_same(4)
            return
        article = result["article"]
        state = dict(state, source=article.source)  # as if picked: later questions are answered from it
        yield (
            _line(f"Added {article.name}: now answering from it."),
            gr.update(choices=[ALL_ARTICLES, *self.sources()], value=article.source, visible=True),
            render_article(self._docs(), article.source, []),
            state,
            gr.update(choices=self.added(), value=None),
            None,
            "",
            "",
        )

    def remove(self, name: str | None, state: dict):
        """Returns (progress, picker, article pane, state, remove list)."""
        if not name:
            return _line("Choose an added article to remove.", error=True), *_same(2), state, gr.skip()
        with self._lock:
            try:
                article = self.engine.remove(name)
            except AssistantError as exc:
                return _line(str(exc), error=True), *_same(2), state, gr.skip()
        sources = self.sources()
        state = dict(state)
        if state.get("source") == article.source:
            state["source"] = None
        return (
            _line(f"Removed {article.name}."),
            gr.update(choices=[ALL_ARTICLES, *sources], value=state.get("source") or ALL_ARTICLES,
                      visible=len(sources) > 1),
            render_article(self._docs(), state.get("source") or (sources[0] if sources else None), []),
            state,
            gr.update(choices=self.added(), value=None),
        )  # fmt: skip

    def _docs(self) -> list[tuple[str, str]]:
        return [(s, self.engine.source_text(s)) for s in self.sources()]


def _line(text: str, error: bool = False) -> str:
    """The progress line: the message as text (never as HTML: it may quote a file name or title)."""
    return f'<p class="add-{"error" if error else "progress"}">{html.escape(text)}</p>'


def _same(n: int) -> list:
    return [gr.skip()] * n
