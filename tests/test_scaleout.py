"""Beyond one process: several articles, a real Chroma server and a real OpenAI-compatible model server.

Every server is started here on 127.0.0.1 and stopped at the end: ``chroma run``, ``python -m llama_cpp.server``
serving the same GGUF as the in-process model, and two ``assistant ui`` processes sharing both (the documented
"many readers" configuration).
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.documents import load_documents, read_text
from assistant.evaluation import run_question
from assistant.index import StoreUnavailableError, build_or_load
from assistant.retrieval import HybridRetriever
from assistant.schema import AssistantError, InputError

from .conftest import ARTICLE, CHROMIUM, CHROMIUM_ARGS, ROOT
from .servers import Process, chroma_server, llama_server, page_ready, reader_page
from .test_article_questions import QSET

SQUAD = ROOT.parent / "shared" / "eval" / "squad2_dev_600w.jsonl"
LEADER = "Who led the Azerbaijani delegation to Damascus?"
FRESNO = "How far is Fresno from Los Angeles?"


def _fresno_text() -> str:
    for line in SQUAD.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["title"].startswith("Fresno"):
            return record["context"]
    raise LookupError("Fresno is not in the SQuAD file")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A project root with two articles: the seed and a SQuAD text about Fresno."""
    if not SQUAD.is_file():
        pytest.skip(f"{SQUAD} is missing")
    root = tmp_path_factory.mktemp("two-articles")
    (root / "seeds").mkdir()
    shutil.copy(ARTICLE, root / "seeds" / ARTICLE.name)
    (root / "seeds" / "fresno.txt").write_text(_fresno_text(), encoding="utf-8")
    return root


def _settings(root: Path, **kw) -> Settings:
    return Settings.from_env(root=root, index_dir=kw.pop("index_dir", root / "index"), **kw)


def _assert_quotes_exact(answer, root: Path) -> None:
    assert answer.citations
    for c in answer.citations:
        assert read_text(root / c.source)[c.start : c.end] == c.quote


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chroma")
    server = chroma_server(tmp / "data", tmp / "chroma.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def model_server(tmp_path_factory, settings):
    from assistant.llm import ensure_model

    tmp = tmp_path_factory.mktemp("llama-server")
    server = llama_server(ensure_model(settings), tmp / "llama.log", n_ctx=settings.n_ctx)
    yield server
    server.stop()


def _remote(settings: Settings, server: Process) -> Settings:
    return settings.model_copy(update={"backend": "openai", "llm_url": f"{server.url}v1", "llm_model": "local"})


# == many articles, embedded store ============================================================================


@pytest.mark.llm
def test_each_answer_cites_the_right_article_and_one_can_be_picked(corpus, engine):
    from assistant.answering import Assistant

    a = Assistant(_settings(corpus))
    assert a.sources() == ["seeds/azerbaijan-syria.txt", "seeds/fresno.txt"]
    fresno = a.answer(FRESNO)
    assert "220 miles" in fresno.text and not fresno.abstained, fresno
    assert {c.source for c in fresno.citations} == {"seeds/fresno.txt"}
    _assert_quotes_exact(fresno, corpus)
    leader = a.answer(LEADER, source="azerbaijan-syria.txt")
    assert "Sharifov" in leader.text and {c.source for c in leader.citations} == {"seeds/azerbaijan-syria.txt"}
    _assert_quotes_exact(leader, corpus)
    elsewhere = a.answer(LEADER, source="seeds/fresno.txt")  # the other article does not say
    assert elsewhere.abstained and not elsewhere.citations, elsewhere
    with pytest.raises(InputError, match="no article 'nope.txt'"):
        a.answer(LEADER, source="nope.txt")


# == a Chroma server ==========================================================================================


def test_chroma_server_holds_the_index_and_survives_a_restart(corpus, chroma, tmp_path):
    s = _settings(corpus, index_dir=tmp_path / "ix", chroma_url=chroma.url, collection="restart")
    docs = load_documents(s.seeds, s.root)
    first = build_or_load(docs, s)
    assert first.changes == {"added": len(first.passages), "removed": 0, "kept": 0}
    assert not (tmp_path / "ix" / "chroma.sqlite3").exists()  # nothing embedded locally
    again = build_or_load(docs, s)
    assert again.changes == {"added": 0, "removed": 0, "kept": len(first.passages)} and not again.built
    r = HybridRetriever(again, k=2)
    assert "Sharifov" in r.retrieve(LEADER)[0].passage.text
    assert {h.passage.source for h in r.retrieve(LEADER, source="seeds/fresno.txt")} == {"seeds/fresno.txt"}

    chroma.stop()
    with pytest.raises(StoreUnavailableError, match="did not answer"):
        r.retrieve(LEADER)
    with pytest.raises(StoreUnavailableError, match=r"Chroma server at .* is not reachable"):
        build_or_load(docs, s)
    chroma.restart(timeout=120)
    assert "Sharifov" in r.retrieve(LEADER)[0].passage.text  # the same client resumes; the data persisted


@pytest.mark.llm
def test_answers_through_the_chroma_server_stop_clearly_and_resume(corpus, chroma, engine, tmp_path):
    from assistant.answering import Assistant

    a = Assistant(_settings(corpus, index_dir=tmp_path / "ix", chroma_url=chroma.url, collection="engine"))
    first = a.answer(FRESNO)
    assert "220 miles" in first.text and {c.source for c in first.citations} == {"seeds/fresno.txt"}
    chroma.stop()
    try:
        with pytest.raises(AssistantError, match="vector store .* did not answer"):
            a.answer(FRESNO)
    finally:
        chroma.restart(timeout=120)
    assert a.answer(FRESNO).text == first.text


# == an OpenAI-compatible model server ========================================================================


# Verdicts that differ through llama_cpp.server, each with what was observed. Strict: a new difference fails, and
# so does one listed here that disappears (then remove it). An earlier one, followup-two-turns, came from the
# server's prompt-prefix reuse on a borderline rewrite; since the rewrite check keeps that question as typed,
# it is answered the same (wrongly: a known_failure) both ways.
SERVER_DIFFERENCES: dict[str, str] = {}
# Once listed: fact-syria-gains, from CI at c0bb743 to e81f52b: the server's greedy three-sentence answer parted from
# the in-process one at its 12th word and lacked "investment"/"expertise". Since its question (an explanation) is
# written with the article sentences closest to it in view (the gate, c2907a2), the server's answer holds them too:
# all 85 verdicts were the same in this session's clean-clone CI run. And followup-unanswerable-age, seen once (CI at
# e81f52b: "The delegation to Damascus was 12 years old"), is declined since an age must be stated as one (45ed6aa).


@pytest.mark.llm
def test_article_set_gives_the_same_verdicts_through_the_model_server(settings, model_server):
    """The in-process verdicts are the set's own: every question passes except the ``known_failure`` ones
    (test_article_questions enforces that with strict xfail). The server must give exactly those."""
    from assistant.answering import Assistant

    remote = Assistant(_remote(settings, model_server))
    expected = {q.id: not q.known_failure for q in QSET.questions}
    results = {q.id: run_question(remote, q, QSET.name) for q in QSET.questions}
    differ = {i: (r["answer"], r["why"]) for i, r in results.items() if r["passed"] != expected[i]}
    same = len(expected) - len(differ)
    assert set(differ) == set(SERVER_DIFFERENCES), f"{same} of {len(expected)} verdicts are the same; differ: {differ}"


@pytest.mark.llm
def test_answers_stream_through_the_model_server(settings, model_server):
    from assistant.answering import Assistant

    remote = Assistant(_remote(settings, model_server))
    events = list(remote.stream(LEADER))
    tokens = [v for k, v in events if k == "token"]
    answer = events[-1][1]
    assert len(tokens) > 1 and "Sharifov" in "".join(tokens)
    assert "Sharifov" in answer.text and answer.citations and answer.model == "local"


def test_model_server_down_is_a_clear_error(settings):
    from assistant.answering import Assistant
    from assistant.schema import ModelUnavailableError

    from .servers import free_port

    down = settings.model_copy(update={"llm_url": f"http://127.0.0.1:{free_port()}/v1", "backend": "openai"})
    with pytest.raises(ModelUnavailableError, match="model server .* not reachable"):
        Assistant(down).answer(LEADER)


# == many readers: two chat pages, one Chroma server, one model server ======================================


@pytest.fixture(scope="module")
def pages(tmp_path_factory, corpus, chroma, model_server):
    tmp = [tmp_path_factory.mktemp(f"page-{i}") for i in range(2)]
    procs = [reader_page(t, corpus, chroma, model_server, "readers") for t in tmp]  # both start (and index) at once
    try:
        for p in procs:
            page_ready(p)
    except BaseException:
        for p in procs:
            p.stop()
        raise
    yield procs
    for p in procs:
        p.stop()
    for p in procs:
        assert "Traceback" not in p.text(), p.text()[-3000:]


@pytest.mark.llm
def test_two_chat_pages_share_one_store_and_one_model_server(pages):
    from gradio_client import Client

    def ask(page: Process, question: str, article: str) -> dict:
        client = Client(page.url, verbose=False, download_files=False)
        return client.predict(question, True, article, api_name="/ask")

    with ThreadPoolExecutor(2) as pool:
        one = pool.submit(ask, pages[0], FRESNO, "")
        two = pool.submit(ask, pages[1], LEADER, "seeds/azerbaijan-syria.txt")
        one, two = one.result(timeout=900), two.result(timeout=900)
    assert "220 miles" in one["text"] and {c["source"] for c in one["citations"]} == {"seeds/fresno.txt"}, one
    assert "Sharifov" in two["text"] and {c["source"] for c in two["citations"]} == {"seeds/azerbaijan-syria.txt"}
    limited = ask(pages[1], FRESNO, "seeds/azerbaijan-syria.txt")  # only the seed article: it does not say
    assert limited["abstained"], limited


@pytest.mark.llm
@pytest.mark.browser
def test_article_picker_in_the_browser_streams_from_the_model_server(pages):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(pages[0].url)
            picker = page.locator("#article-picker input")
            picker.click()
            page.get_by_role("option", name="seeds/fresno.txt").click()
            page.locator("#article-pane").get_by_text("Fresno", exact=False).first.wait_for(timeout=30_000)
            page.locator("#question textarea").fill(LEADER)
            page.locator("#ask").click()
            done = page.locator(".msg-answer, .msg-quote, .msg-abstain, .msg-error").last
            done.wait_for(timeout=600_000)
            assert "msg-abstain" in (done.get_attribute("class") or "")  # Fresno's article does not say
            page.locator("#question textarea").fill(FRESNO)
            page.locator("#ask").click()
            page.locator(".msg-answer").first.wait_for(timeout=600_000)
            text = page.locator(".msg-answer").first.inner_text()
            assert "220 miles" in text
        finally:
            browser.close()
