"""The chat page, end to end: the real server (``assistant ui``) in a subprocess, driven by headless Chromium.

Browser tests use Debian's chromium (never a downloaded browser) and servers bound to 127.0.0.1 only. The
first few tests share one page, because a follow-up needs the conversation before it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.feedback import FeedbackError, FeedbackLog
from assistant.rendering import esc, render_answer, render_article, u16
from assistant.schema import Answer, Citation

from .conftest import CHROMIUM, CHROMIUM_ARGS
from .servers import Process, chat_page, http_ok, started

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "seeds" / "azerbaijan-syria.txt"
ANSWER_TIMEOUT_MS = 240_000  # a shared 2-core machine: one answer can take a minute or more
FINAL = ".msg-answer, .msg-quote, .msg-abstain, .msg-error"


# -- helpers that need no browser ---------------------------------------------------------------------
def test_feedback_lines_stay_whole_under_concurrent_writers(tmp_path):
    log = FeedbackLog(tmp_path / "sub" / "feedback.jsonl")
    big = "x" * 20_000  # larger than a pipe buffer: a torn write would show

    def write(i):
        for j in range(20):
            log.append({"writer": i, "n": j, "pad": big})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "sub" / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 80
    assert all(json.loads(line)["pad"] == big for line in lines)


def test_unwritable_feedback_file_raises_a_readable_error(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(FeedbackError, match="Could not save feedback"):
        FeedbackLog(blocker / "feedback.jsonl").append({"vote": "up"})


def test_answer_html_is_escaped_and_chips_carry_utf16_offsets():
    text = "😀 <b>Bold</b> & “quoted” text.\r\nNext line."
    start = text.index("<b>")
    end = text.index(".\r\n") + 1
    cite = Citation(n=1, source="seeds/x.txt", start=start, end=end, quote=text[start:end])
    html = render_answer(Answer(text="<script>alert(1)</script> yes [1].", citations=[cite]), lambda s: text)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert f"s={u16(text, start)}&amp;e={u16(text, end)}" in html
    assert u16(text, start) == start + 1  # the emoji is two UTF-16 units
    article = render_article([("seeds/x.txt", text)], "seeds/x.txt", [cite])
    assert "&lt;b&gt;Bold" in article and "&#13;" in article and "<b>" not in article
    assert esc('"') == "&quot;"


def test_a_quoted_reply_is_set_apart_from_an_answer_with_a_chip_per_quote():
    text = ARTICLE.read_text(encoding="utf-8")
    start = text.index("Just months ago")
    end = text.index("12-year closure,") + len("12-year closure, a clear sign of warming relations.")
    cite = Citation(n=1, source="seeds/azerbaijan-syria.txt", start=start, end=end, quote=text[start:end])
    lead = "The article does not answer this in so many words. The closest it says:"
    quoted = Answer(text=f"{lead} \u201c{cite.quote}\u201d [1]", citations=[cite], abstained=True, status="quoted")
    html = render_answer(quoted, lambda s: text, SimpleNamespace(reasons=["the model found no answer"]))
    assert 'class="msg-quote"' in html and "msg-answer" not in html and "msg-abstain" not in html
    assert html.count('class="cite-chip"') == 2  # the marker in the text and the entry under "Quoted"
    assert "Not answered in its own words because the model found no answer." in html


# -- the real server ----------------------------------------------------------------------------------
def _start(tmp: Path, env: dict[str, str] | None = None) -> Process:
    server = chat_page(tmp, {"ASSISTANT_INDEX_DIR": str(tmp / "index"), **(env or {})})
    return started(server, lambda: http_ok(server.url))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = _start(tmp_path_factory.mktemp("ui"))
    yield s
    s.stop()


@contextmanager
def chromium_page(url: str, ready: str):
    """One page of Debian's chromium at ``url`` once ``ready`` is on it; skipped when chromium is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector(ready)
            yield page
        finally:
            browser.close()


def _open(browser, url: str, height: int = 900, timeout_ms: int = 30_000):
    context = browser.new_context(viewport={"width": 1400, "height": height})
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#article-pane section.doc")
    return context, page


@pytest.fixture(scope="module")
def page(browser, server):
    context, page = _open(browser, server.url)
    yield page
    context.close()


def finals(page) -> int:
    return page.locator(f"#chat :is({FINAL})").count()


def ask(page, question: str, click: bool = False):
    """Type (or click Ask with) a question and wait for its final message; returns that message's locator."""
    before = finals(page)
    page.wait_for_selector("#ask:not([disabled])")
    page.fill("#question textarea", question)
    page.click("#ask") if click else page.press("#question textarea", "Enter")
    page.wait_for_function(
        f"n => document.querySelectorAll('#chat :is({FINAL})').length > n", arg=before, timeout=ANSWER_TIMEOUT_MS
    )
    return page.locator(f"#chat :is({FINAL})").last


# Notes in the page whether the answer was ever shown while still being written (however briefly).
WATCH_STREAMING = """() => {
  window.__streamed = false;
  const chat = document.getElementById('chat');
  new MutationObserver(() => { if (chat.querySelector('.msg-streaming')) window.__streamed = true; })
    .observe(chat, {subtree: true, childList: true, characterData: true});
}"""


def _first_answer(page):
    """The conversation's first answer, asking for it if this page has none yet (tests may run alone)."""
    if page.locator("#chat .msg-answer").count() == 0:
        page.fill("#question textarea", "Who led the Azerbaijani delegation?")
        page.evaluate(WATCH_STREAMING)
        page.press("#question textarea", "Enter")
        page.wait_for_selector("#chat .msg-answer", timeout=ANSWER_TIMEOUT_MS)
        assert page.evaluate("window.__streamed"), "the answer was not streamed while the model wrote it"
    return page.locator("#chat .msg-answer").first


@pytest.mark.browser
def test_answer_streams_then_cites_and_highlights_the_span(page):
    answer = _first_answer(page)
    assert "Sharifov" in answer.locator(".answer-text").inner_text()
    chips = answer.locator(".answer-text a.cite-chip")
    assert chips.count() >= 1
    assert answer.locator(".sources li").count() >= 1
    assert page.locator("#article-pane mark.cited").count() >= 1  # the answer's spans are marked

    chips.first.click()
    active = page.locator("#article-pane span.cite-active")
    page.wait_for_function("document.querySelectorAll('#article-pane span.cite-active').length > 0")
    highlighted = "".join(active.all_inner_texts())
    assert "Samir Sharifov" in highlighted
    quote = answer.locator(".sources q").first.inner_text()
    assert highlighted == quote  # exactly the cited span, no more, no less
    assert active.first.is_visible()

    shot = ROOT / "artifacts" / "ui-answer.png"
    shot.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(shot))  # the README's docs/screenshot.png is refreshed from this by hand


# Notes in the page whether a checked sentence (with its chip) was shown before the answer was final.
WATCH_SENTENCES = """() => {
  window.__chips_while_writing = false;
  const chat = document.getElementById('chat');
  new MutationObserver(() => {
    if (chat.querySelector('.msg-streaming .checked a.cite-chip')) window.__chips_while_writing = true;
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""


@pytest.mark.browser
def test_reader_example_is_answered_in_cited_sentences_all_marked_in_the_article(page):
    """The example "Why is Azerbaijan betting on Syria?": sentences stream with their chips, every sentence ends
    in its own markers, and every cited span of the answer is marked in the article pane."""
    names = [b.strip() for b in page.locator("#examples button").all_inner_texts()]
    assert "Summarize the article" in names and "Why is Azerbaijan betting on Syria?" in names
    before = finals(page)
    page.evaluate(WATCH_SENTENCES)
    page.locator("#examples button", has_text="Why is Azerbaijan betting on Syria?").click()
    page.wait_for_function(
        f"n => document.querySelectorAll('#chat :is({FINAL})').length > n", arg=before, timeout=ANSWER_TIMEOUT_MS
    )
    reply = page.locator(f"#chat :is({FINAL})").last
    assert reply.locator(".answer-text").count() == 1, reply.inner_text()
    text = reply.locator(".answer-text").inner_text()
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    assert sentences and all(re.search(r"\d\s*[.!?]$", s) for s in sentences), text  # each ends in its chips
    assert page.evaluate("window.__chips_while_writing"), "no checked sentence was shown while the model wrote"
    cited = reply.locator(".sources li").count()
    marked = page.evaluate(
        "() => new Set([...document.querySelectorAll('#article-pane mark.cited')].flatMap("
        "m => m.title.replace(/[\\[\\]]/g, '').split(','))).size"
    )
    assert cited >= 1 and marked == cited


@pytest.mark.browser
def test_follow_up_uses_the_conversation(page):
    _first_answer(page)
    reply = ask(page, "What message did he carry?")
    assert "Aliyev" in reply.locator(".answer-text").inner_text()
    assert reply.locator(".answer-text").count() == 1


@pytest.mark.browser
def test_thumbs_up_appends_a_json_line(page, server):
    _first_answer(page)
    before = server.feedback.read_text().splitlines() if server.feedback.exists() else []
    row = page.locator("#chat .message-row:has(.msg-answer)").first
    row.locator("xpath=following-sibling::*[1]").get_by_role("button", name="Like", exact=True).click()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = server.feedback.read_text().splitlines() if server.feedback.exists() else []
        if len(lines) > len(before):
            break
        time.sleep(0.3)
    record = json.loads(lines[-1])
    assert record["vote"] == "up"
    assert record["question"] == "Who led the Azerbaijani delegation?"
    assert "Sharifov" in record["answer"]
    assert record["citations"] and record["citations"][0]["quote"] in ARTICLE.read_text(encoding="utf-8")
    datetime.fromisoformat(record["timestamp"])


@pytest.mark.browser
def test_unanswerable_question_is_shown_as_an_abstention(page):
    reply = ask(page, "Who won the 2022 FIFA World Cup?")
    assert reply.evaluate("e => e.classList.contains('msg-abstain')")
    assert "The article does not say" in reply.inner_text()
    assert reply.locator("a.cite-chip").count() == reply.locator(".closest li").count()  # passages, not citations


@pytest.mark.browser
def test_a_question_the_article_only_comes_close_to_is_quoted_not_answered(page):
    """The model finds no amount pledged; the article's two closest sentences are quoted as they stand, set apart
    from an answer, each with a chip that shows its exact span."""
    reply = ask(page, "How much money has Azerbaijan pledged for Syria's reconstruction?")
    assert reply.evaluate("e => e.classList.contains('msg-quote')"), reply.inner_text()
    text = reply.locator(".quote-text").inner_text()
    assert text.startswith("The article does not answer this in so many words. The closest it says:")
    quotes = reply.locator(".sources q").all_inner_texts()
    article = " ".join(ARTICLE.read_text(encoding="utf-8").split())
    assert quotes and all(" ".join(q.split()) in article for q in quotes)
    assert all(" ".join(q.split()) in " ".join(text.split()) for q in quotes)  # quoted whole, in the reply itself
    reply.locator(".quote-text a.cite-chip").first.click()
    page.wait_for_function("document.querySelectorAll('#article-pane span.cite-active').length > 0")
    highlighted = "".join(page.locator("#article-pane span.cite-active").all_inner_texts())
    assert " ".join(highlighted.split()) == " ".join(quotes[0].split())
    shot = ROOT / "artifacts" / "ui-quote.png"
    shot.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(shot))  # the README's docs/quote.png is refreshed from this by hand


@pytest.mark.browser
def test_bad_questions_give_readable_errors_and_the_page_stays_usable(page):
    empty = ask(page, "", click=True)
    assert "Please type a question" in empty.inner_text()
    long = ask(page, "x" * 20_000, click=True)
    assert "20,000 characters" in long.inner_text() and "2,000" in long.inner_text()
    for reply in (empty, long):
        assert reply.evaluate("e => e.classList.contains('msg-error')")
        assert "Traceback" not in reply.inner_text()
    assert page.is_enabled("#ask") and page.is_editable("#question textarea")
    page.click("#start-over")
    page.wait_for_function("document.querySelectorAll('#chat .message-row').length === 0")


@pytest.mark.browser
def test_two_sessions_at_once_each_get_their_own_answer(browser, server):
    questions = {
        "a": ("Who led the Azerbaijani delegation?", "Sharifov", "Antalya"),
        "b": ("Where did Aliyev and Al-Sharaa meet?", "Antalya", "Sharifov"),
    }
    pages = {k: _open(browser, server.url) for k in questions}
    try:
        for k, (q, _, _) in questions.items():
            page = pages[k][1]
            page.fill("#question textarea", q)
        for k in questions:
            pages[k][1].click("#ask")
        for k, (q, want, other) in questions.items():
            page = pages[k][1]
            page.wait_for_selector(f"#chat :is({FINAL})", timeout=2 * ANSWER_TIMEOUT_MS)
            text = page.locator("#chat .answer-text").inner_text()
            assert want in text and other not in text
            users = page.locator("#chat .message-row.user-row").all_inner_texts()
            assert [u.strip() for u in users] == [q]  # no cross-talk
    finally:
        for context, _ in pages.values():
            context.close()


@pytest.fixture(scope="module")
def broken_server(tmp_path_factory):
    """A server whose model file is missing and whose feedback file cannot be written."""
    tmp = tmp_path_factory.mktemp("ui-broken")
    (tmp / "blocker").write_text("")
    env = {"ASSISTANT_MODEL_PATH": str(tmp / "missing.gguf"), "ASSISTANT_FEEDBACK_PATH": str(tmp / "blocker" / "f")}
    s = _start(tmp, env)
    yield s
    s.stop()


@pytest.mark.browser
def test_missing_model_and_unwritable_feedback_are_messages_not_crashes(browser, broken_server):
    context, page = _open(browser, broken_server.url)
    try:
        abstained = ask(page, "Who won the 2022 FIFA World Cup?")  # decided before the model is needed
        row = page.locator("#chat .message-row:has(.msg-abstain)").first
        row.locator("xpath=following-sibling::*[1]").get_by_role("button", name="Like", exact=True).click()
        toast = page.get_by_text("Your vote was not saved")
        toast.wait_for(timeout=30_000)
        assert abstained.is_visible()
        failed = ask(page, "Who led the Azerbaijani delegation?")
        assert failed.evaluate("e => e.classList.contains('msg-error')")
        assert "does not exist" in failed.inner_text() and "Traceback" not in failed.inner_text()
        # the button comes back in the step after the message (finish), so wait for it rather than race it
        page.wait_for_selector("#ask:not([disabled])", timeout=10_000)
    finally:
        context.close()


def test_article_pane_shows_the_cited_document_among_several():
    docs = [("seeds/a.txt", "First article."), ("seeds/b.txt", "Second article, cited.")]
    cite = Citation(n=1, source="seeds/b.txt", start=0, end=14, quote="Second article")
    html = render_article(docs, "seeds/b.txt", [cite])
    assert '<section class="doc doc-hidden" data-source="seeds/a.txt">' in html
    assert '<section class="doc" data-source="seeds/b.txt">' in html
    assert '<mark class="cited" title="[1]">Second article</mark>, cited.' in html


def test_article_pane_hides_blank_lines_but_keeps_every_character():
    """The seed's non-breaking-space lines under the title show as one paragraph break; offsets stay the file's."""
    text = ARTICLE.read_text(encoding="utf-8")
    html = render_article([("seeds/azerbaijan-syria.txt", text)], "seeds/azerbaijan-syria.txt", [])
    assert '<span class="blank-lines">' in html and ".blank-lines" not in html  # CSS lives in the page
    body = re.sub(r"<[^>]+>", "", html.split('<div class="doc-text">', 1)[1].rsplit("</div></section>", 1)[0])
    import html as html_mod

    assert html_mod.unescape(body) == text  # nothing removed: the highlighter's offsets still count the file


def test_streaming_shows_checked_sentences_with_chips():
    from assistant.rendering import render_streaming
    from assistant.schema import AnswerSentence

    text = ARTICLE.read_text(encoding="utf-8")
    start = text.index("A high-level delegation")
    end = start + 40
    cite = Citation(n=1, source="seeds/azerbaijan-syria.txt", start=start, end=end, quote=text[start:end])
    checked = Answer(text="Sharifov led the delegation [1].", sentences=[AnswerSentence(text="x", citations=[1])],
                     citations=[cite])  # fmt: skip
    html = render_streaming("He carried a mess", checked, lambda s: text)
    assert html.index('class="cite-chip"') < html.index("He carried a mess")
    assert 'class="writing"' in html
