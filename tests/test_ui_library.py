"""Bring your own article through the real chat page in Debian's Chromium, with the real model.

A page serves a temporary copy of the seeds: a .txt, an .html page and a .pdf (printed by Chromium itself) are
uploaded, each is selected and shown when ready, and a question about each is answered with a citation of that
article's stored file. Two pages add at once; an added article is removed; a page on a network address without
ASSISTANT_ALLOW_ADD has no "Add an article" panel.
"""

from __future__ import annotations

import re
import shutil
import urllib.parse
from pathlib import Path

import pytest

from .conftest import ARTICLE
from .servers import chat_page, http_ok, started
from .test_library import HARBOUR, PAGE
from .test_ui import ANSWER_TIMEOUT_MS, FINAL, ask
from .test_ui import _open as open_page

pytestmark = [pytest.mark.browser, pytest.mark.llm]

LIBRARY = {  # file name -> (its content, a question about it, what the answer must hold)
    "ferry.txt": (
        "Skarholm Ferry Returns\n\nThe ferry between Port Elwin and Skarholm will sail twice a day from June, the "
        "harbour office said. Each crossing takes forty minutes, and tickets cost nine euros for adults.\n",
        "How long does each crossing take?",
        "forty minutes",
    ),
    "harbour.html": (PAGE, "How much did the reconstruction of the harbour cost?", "14 million"),
}
PRINTED = (
    "<html><head><title>Warehouse Plans</title></head><body><h1>Warehouse Plans</h1><p>The council of Port Elwin "
    "will turn the old warehouses into a market hall. Work starts next spring and is paid for by a regional grant "
    "of three million euros, the council said on Tuesday.</p></body></html>"
)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("library-root")
    (root / "seeds").mkdir()
    shutil.copy(ARTICLE, root / "seeds" / ARTICLE.name)
    return root


@pytest.fixture(scope="module")
def server(root):
    s = chat_page(root, {"ASSISTANT_ROOT": str(root), "ASSISTANT_INDEX_DIR": str(root / "index")})
    started(s, lambda: http_ok(s.url))
    yield s
    s.stop()
    assert "Traceback" not in s.text(), s.text()[-4000:]


def _open(browser, url: str):
    return open_page(browser, url, height=1000, timeout_ms=60_000)


LINE = "#add-progress :is(p.add-progress, p.add-error)"  # the handler's own line (Gradio adds a timer beside it)
DONE = """prev => {
  const line = document.querySelector('#add-progress :is(p.add-progress, p.add-error)');
  const text = line?.innerText || '';
  return text !== prev && (/now answering from it/.test(text) || line.classList.contains('add-error'));
}"""


def _add_file(page, path: Path) -> str:
    """Upload ``path`` in the "Add an article" panel and press Add; returns the final progress line."""
    if not page.locator("#add-button").is_visible():
        page.click("#add-article >> text=Add an article")
    page.set_input_files("#add-file input[type=file]", str(path))
    page.wait_for_function("() => !document.querySelector('#add-file .uploading')")
    before = _line(page)
    page.click("#add-button")
    page.wait_for_function(DONE, arg=before, timeout=ANSWER_TIMEOUT_MS)
    return _line(page)


def _line(page) -> str:
    return page.locator(LINE).inner_text() if page.locator(LINE).count() else ""


def _cited_sources(reply) -> set[str]:
    hrefs = reply.locator("a.cite-chip").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    return {urllib.parse.parse_qs(h.split("?", 1)[1])["src"][0] for h in hrefs}


def test_txt_html_and_pdf_are_added_shown_and_answered_with_their_own_citations(browser, server, root, tmp_path):
    context, page = _open(browser, server.url)
    try:
        pdf_page = context.new_page()
        pdf_page.set_content(PRINTED)
        pdf = tmp_path / "warehouses.pdf"
        pdf_page.pdf(path=str(pdf))  # Chromium's own print to PDF: a real text layer
        pdf_page.close()
        uploads = {name: (content, q, want) for name, (content, q, want) in LIBRARY.items()}
        uploads["warehouses.pdf"] = (None, "How much is the regional grant?", "three million")
        for name, (content, question, want) in uploads.items():
            path = tmp_path / name
            if content is not None:
                path.write_text(content, encoding="utf-8")
            line = _add_file(page, path)
            added = re.search(r"Added (\S+): now answering from it", line)
            assert added, line
            stored = added.group(1)
            source = f"seeds/added/{stored}"
            assert (root / source).is_file()
            assert page.locator("#article-picker input").input_value() == source  # picked
            shown = page.locator(f'#article-pane section.doc[data-source="{source}"]')
            assert shown.is_visible() and "<p>" not in shown.inner_text() and "Log in" not in shown.inner_text()
            reply = ask(page, question)
            text = reply.inner_text()
            assert want in text and _cited_sources(reply) == {source}, (name, text)
    finally:
        context.close()


def test_two_pages_adding_at_once_both_get_their_article(browser, server, root, tmp_path):
    texts = {
        f"market-{i}.txt": HARBOUR.replace("Harbour Lights: A Town Rebuilds", f"Market Day {i}").replace(
            "14 million", f"{30 + i} million"
        )
        for i in range(2)
    }
    pages, lines = [], {}
    for name, text in texts.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        pages.append(_open(browser, server.url))

    # Playwright's sync API is not thread-safe: the uploads are started one after the other without waiting,
    # then both are awaited, so the two adds overlap on the server.
    try:
        for (_, page), name in zip(pages, texts, strict=True):
            page.click("#add-article >> text=Add an article")
            page.set_input_files("#add-file input[type=file]", str(tmp_path / name))
            page.wait_for_function("() => !document.querySelector('#add-file .uploading')")
        before = [_line(page) for _, page in pages]
        for _, page in pages:
            page.click("#add-button")
        for (_, page), name, prev in zip(pages, texts, before, strict=True):
            page.wait_for_function(DONE, arg=prev, timeout=ANSWER_TIMEOUT_MS)
            lines[name] = _line(page)
    finally:
        for context, _ in pages:
            context.close()
    assert all("Added market-day-" in line for line in lines.values()), lines
    stored = sorted(p.name for p in (root / "seeds" / "added").glob("market-day-*.txt"))
    assert stored == ["market-day-0.txt", "market-day-1.txt"]
    assert {(root / "seeds" / "added" / n).read_text(encoding="utf-8") for n in stored} == set(texts.values())


def test_an_added_article_is_removed_from_the_page_and_a_seed_cannot_be(browser, server, root):
    context, page = _open(browser, server.url)
    try:
        page.click("#add-article >> text=Add an article")
        page.click("#remove-picker input")
        options = page.locator("[role=option]").all_inner_texts()
        assert ARTICLE.name not in " ".join(options) and "market-day-0.txt" in " ".join(options), options
        page.locator("[role=option]", has_text="market-day-0.txt").click()
        page.click("#remove-button")
        page.wait_for_function("() => /Removed/.test(document.querySelector('#add-progress')?.innerText || '')")
        assert not (root / "seeds" / "added" / "market-day-0.txt").exists()
        assert (root / "seeds" / ARTICLE.name).exists()
    finally:
        context.close()


def test_adding_while_another_reader_is_answered_loses_and_mixes_nothing(browser, server, root, tmp_path):
    """One page asks about the seed while another adds an article: the answer cites the seed only, the add
    completes, and the asking page then lists the new article without having been switched to it."""
    text = LIBRARY["ferry.txt"][0].replace("Skarholm Ferry Returns", "Night Ferry").replace("twice", "three times")
    (tmp_path / "night-ferry.txt").write_text(text, encoding="utf-8")
    (c1, asking), (c2, adding) = _open(browser, server.url), _open(browser, server.url)
    try:
        asking.click("#article-picker input")
        asking.locator("[role=option]", has_text=ARTICLE.name).click()
        asking.wait_for_selector("#ask:not([disabled])")
        before = asking.locator(f"#chat :is({FINAL})").count()
        asking.fill("#question textarea", "Who led the Azerbaijani delegation?")
        asking.press("#question textarea", "Enter")
        line = _add_file(adding, tmp_path / "night-ferry.txt")  # while the question is being answered
        asking.wait_for_function(
            f"n => document.querySelectorAll('#chat :is({FINAL})').length > n", arg=before, timeout=ANSWER_TIMEOUT_MS
        )
        reply = asking.locator(f"#chat :is({FINAL})").last
        assert "Sharifov" in reply.inner_text() and _cited_sources(reply) == {f"seeds/{ARTICLE.name}"}
        assert "now answering from it" in line and (root / "seeds" / "added" / "night-ferry.txt").exists()
        assert asking.locator("#article-picker input").input_value() == f"seeds/{ARTICLE.name}"
    finally:
        c1.close()
        c2.close()
