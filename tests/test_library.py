"""Bring your own article: files and pasted text made into clean text, stored beside the seeds, or removed.

Each test works on a copy of the project's seeds in a temporary root, so the repository's seeds/ is never
written. The extraction tests use the real trafilatura and pypdf; the Assistant tests use the real index
(Chroma on disk, the real embedding model) and, where marked ``llm``, the real model.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.library import ArticleError, add, articles, clean, remove, text_of_file
from assistant.schema import InputError

from .conftest import ARTICLE

HARBOUR = (
    "Harbour Lights: A Town Rebuilds\n\n"
    "The fishing town of Port Elwin reopened its harbour in May after a two-year reconstruction that cost 14 "
    "million euros. Mayor Ilse Brandt said the new quay would bring back the ferry to Skarholm.\n\n"
    "Local shops reported more visitors within weeks of the opening, and the council plans a second phase for "
    "the old warehouses next spring.\n"
)
PAGE = f"""<!doctype html><html><head><title>Harbour Lights</title><script>document.title='x'</script></head>
<body><nav><a href="/">Home</a> | <a href="/news">News</a> | <a href="/login">Log in</a></nav>
<article><h1>Harbour Lights: A Town Rebuilds</h1>
{"".join(f"<p>{p}</p>" for p in HARBOUR.split(chr(10) * 2)[1:])}
</article><footer>Copyright 2026 Elwin Gazette. All rights reserved.</footer></body></html>"""


def make_pdf(path: Path, lines: list[str]) -> Path:
    """A real PDF with a text layer (matplotlib's PDF backend, TrueType text), one line per ``lines`` item."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"pdf.fonttype": 42}):
        fig = plt.figure(figsize=(8.5, 11))
        for i, line in enumerate(lines):
            fig.text(0.05, 0.95 - 0.03 * i, line, fontsize=10)
        fig.savefig(path)
        plt.close(fig)
    return path


@pytest.fixture
def root(tmp_path) -> Path:
    (tmp_path / "seeds").mkdir()
    shutil.copy(ARTICLE, tmp_path / "seeds" / ARTICLE.name)
    return tmp_path


@pytest.fixture
def lib(root) -> Settings:
    return Settings.from_env(root=root, index_dir=root / "index")


def stored(settings: Settings) -> list[str]:
    """Every file in the added folder but the lock, hidden ones (a ``.part`` left behind) included."""
    found = settings.added.glob("*") if settings.added.is_dir() else []
    return sorted(p.name for p in found if p.name != ".add.lock")


# == turning files into text ==================================================================================


def test_plain_text_and_markdown_are_kept_as_they_are(tmp_path):
    for name in ("a.txt", "a.md"):
        (tmp_path / name).write_text(HARBOUR, encoding="utf-8")
        assert text_of_file(tmp_path / name)[0] == HARBOUR


def test_html_gives_its_main_text_without_menus_scripts_or_footer(tmp_path):
    (tmp_path / "page.html").write_text(PAGE, encoding="utf-8")
    text, title = text_of_file(tmp_path / "page.html")
    assert "Port Elwin reopened its harbour" in text and "second phase for the old warehouses" in text
    for junk in ("Log in", "document.title", "Copyright", "<p>"):
        assert junk not in text
    assert title in {"Harbour Lights", "Harbour Lights: A Town Rebuilds"}


def test_pdf_gives_its_text_layer_with_words_joined_across_lines(tmp_path):
    pdf = make_pdf(
        tmp_path / "harbour.pdf",
        [
            "Harbour Lights: A Town Rebuilds",
            "The fishing town of Port Elwin reopened its harbour in May after a two-year recon-",
            "struction that cost 14 million euros. Mayor Ilse Brandt said the new quay would",
            "bring back the ferry to Skarholm.",
            "Local shops reported more visitors within weeks of the opening, and the council plans",
            "a second phase for the old warehouses next spring.",
        ],
    )
    text, _ = text_of_file(pdf)
    assert text.split("\n\n") == [p.strip() for p in HARBOUR.split("\n\n")]


# == adding and removing ======================================================================================


def test_an_article_is_stored_beside_the_seeds_named_from_its_title_and_never_over_another(lib):
    first = add(HARBOUR, lib, title="Harbour Lights")
    assert first.name == "harbour-lights.txt" and first.added
    assert (lib.added / first.name).read_text(encoding="utf-8") == HARBOUR
    second = add(HARBOUR.replace("14 million", "15 million"), lib, title="Harbour Lights")
    assert second.name == "harbour-lights-2.txt"
    assert (lib.added / first.name).read_text(encoding="utf-8") == HARBOUR  # untouched
    assert [a.name for a in articles(lib)] == [ARTICLE.name, "harbour-lights-2.txt", "harbour-lights.txt"]


def test_the_title_defaults_to_the_one_found_else_the_first_line(lib, tmp_path):
    (tmp_path / "page.html").write_text(PAGE, encoding="utf-8")
    assert add(tmp_path / "page.html", lib).name.startswith("harbour-lights")
    pasted = add("A Quiet Winter in Skarholm\n\n" + HARBOUR.split("\n\n", 1)[1].replace("May", "June"), lib)
    assert pasted.name == "a-quiet-winter-in-skarholm.txt"


def bad_inputs(tmp_path: Path) -> dict[str, tuple[object, str]]:
    """(what is given, a word the message must hold), one per kind of bad input in issue 23."""
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("  \n\n ", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "latin1.txt").write_bytes(HARBOUR.replace("euros", "€").encode("cp1252"))
    (tmp_path / "report.docx").write_bytes(b"PK\x03\x04 not really a document")
    (tmp_path / "menu.html").write_text("<html><body><nav><a href='/'>Home</a> | News</nav></body></html>")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a PDF")
    scan = make_pdf(tmp_path / "scan.pdf", [])
    return {
        "empty file": (tmp_path / "empty.txt", "empty"),
        "blank file": (tmp_path / "blank.md", "empty"),
        "binary file": (tmp_path / "binary.txt", "not a text file"),
        "not UTF-8": (tmp_path / "latin1.txt", "not UTF-8"),
        "unknown extension": (tmp_path / "report.docx", ".docx"),
        "HTML without main text": (tmp_path / "menu.html", "no main text"),
        "not a PDF": (tmp_path / "broken.pdf", "not a readable PDF"),
        "PDF without a text layer": (scan, "no text layer"),
        "missing file": (tmp_path / "nowhere.txt", "cannot be read"),
        "too short": ("Just a line.", "too short"),
        "seed text again": (ARTICLE.read_text(encoding="utf-8"), ARTICLE.name),
    }


@pytest.mark.parametrize(
    "case",
    ["empty file", "blank file", "binary file", "not UTF-8", "unknown extension", "HTML without main text",
     "not a PDF", "PDF without a text layer", "missing file", "too short", "seed text again"],
)  # fmt: skip
def test_bad_input_gets_a_clear_message_and_nothing_is_stored(lib, tmp_path, case):
    given, word = bad_inputs(tmp_path)[case]
    with pytest.raises(ArticleError) as err:
        add(given, lib)
    assert word in str(err.value), str(err.value)
    assert stored(lib) == []


def test_an_article_over_the_size_limit_is_refused_naming_the_limit(root):
    small = Settings.from_env(root=root, index_dir=root / "index", max_article_chars=300)
    with pytest.raises(ArticleError, match="the limit is 300"):
        add(HARBOUR, small)
    assert stored(small) == []


def test_the_same_text_twice_names_the_article_that_holds_it(lib):
    add(HARBOUR, lib, title="Harbour Lights")
    with pytest.raises(ArticleError, match="already stored, as harbour-lights.txt"):
        add("\n" + HARBOUR.replace("\n\n", "\n\n\n"), lib, title="Other")  # whitespace differs only
    assert stored(lib) == ["harbour-lights.txt"]


@pytest.mark.parametrize("title", ["../../etc/passwd", ".hidden", "a/b", "..", "x\\y", "tab\there", "???"])
def test_a_title_that_would_make_an_unsafe_file_name_is_refused(lib, title):
    with pytest.raises(ArticleError, match="title"):
        add(HARBOUR, lib, title=title)
    assert stored(lib) == [] and not (lib.root / "etc").exists()


def test_only_added_articles_can_be_removed(lib):
    add(HARBOUR, lib, title="Harbour Lights")
    with pytest.raises(ArticleError, match="seed article"):
        remove(ARTICLE.name, lib)
    with pytest.raises(ArticleError, match="no article 'nothing.txt'"):
        remove("nothing.txt", lib)
    assert remove("harbour-lights.txt", lib).name == "harbour-lights.txt"
    assert stored(lib) == [] and (lib.seeds / ARTICLE.name).exists()


def test_adds_at_once_each_get_their_own_file(lib):
    errors: list[str] = []

    def one(i: int) -> None:
        try:
            add(HARBOUR.replace("14 million", f"{20 + i} million"), lib, title="Harbour Lights")
        except Exception as exc:  # collected: a thread's exception would otherwise be lost
            errors.append(repr(exc))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    names = stored(lib)
    assert len(names) == 6 and len({(lib.added / n).read_text() for n in names}) == 6


# == through the Assistant: index, model state, answers =======================================================


@pytest.fixture
def engine_of(lib):
    from assistant.answering import Assistant

    return Assistant(lib)


def _indexed_sources(assistant) -> set[str]:
    return {m["source"] for m in assistant.index.store._collection.get(include=["metadatas"])["metadatas"]}


def test_adding_indexes_only_the_new_article_and_removing_drops_it(engine_of, lib):
    seed_ids = set(engine_of.index.store._collection.get(include=[])["ids"])
    lines: list[str] = []
    article = engine_of.add(HARBOUR, title="Harbour Lights", progress=lines.append)
    assert lines[0].startswith("Reading") and lines[-1] == "Ready: Harbour Lights", lines
    assert engine_of.index.changes["added"] >= 1 and engine_of.index.changes["kept"] == len(seed_ids)
    assert _indexed_sources(engine_of) == {"seeds/" + ARTICLE.name, "seeds/added/harbour-lights.txt"}
    assert engine_of.resolve_source(article.name) == article.source
    engine_of.remove(article.name)
    assert _indexed_sources(engine_of) == {"seeds/" + ARTICLE.name}
    assert not engine_of.state_dir(article.source).exists()
    with pytest.raises(InputError, match="no article 'harbour-lights.txt'"):
        engine_of.resolve_source(article.name)


@pytest.mark.llm
def test_a_question_on_an_added_article_cites_its_stored_file(engine_of, lib):
    # a text no earlier test added: the model (one per process) must read it, not find it in its cache
    article = engine_of.add(HARBOUR.replace("14 million", "16 million"), title="Harbour Lights")
    got = engine_of.answer("How much did the reconstruction of the harbour cost?", source=article.name)
    assert not got.abstained and "16 million" in got.text, got.text
    text = (lib.root / article.source).read_text(encoding="utf-8")
    for c in got.citations:
        assert c.source == article.source and text[c.start : c.end] == c.quote
    assert list(engine_of.state_dir(article.source).glob("prefix-*.llstate"))  # its own saved model state


# == the command line =========================================================================================


def _cli(root: Path, *args: str, stdin: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_ROOT": str(root), "ASSISTANT_INDEX_DIR": str(root / "index")}
    cmd = [sys.executable, "-c", "from assistant.cli import main; main()", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, timeout=timeout, cwd=root)


@pytest.mark.llm
def test_add_list_remove_from_the_command_line(root, tmp_path):
    (tmp_path / "page.html").write_text(PAGE, encoding="utf-8")
    added = _cli(root, "add", str(tmp_path / "page.html"))
    assert added.returncode == 0 and "Added harbour-lights" in added.stdout, added.stderr
    assert "indexing" in added.stderr and "Ready" in added.stderr  # the progress lines
    piped = _cli(root, "add", "-", "--title", "Skarholm Ferry", stdin=HARBOUR.replace("May", "June"))
    assert piped.returncode == 0 and "Added skarholm-ferry.txt" in piped.stdout, piped.stderr
    bad = _cli(root, "add", str(tmp_path / "page.html"))
    assert bad.returncode == 2 and "already stored" in bad.stderr and "Traceback" not in bad.stderr
    listed = _cli(root, "list").stdout.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [
        [ARTICLE.name, "seed"], [listed[1].split("\t")[0], "added"], ["skarholm-ferry.txt", "added"]
    ]  # fmt: skip
    asked = _cli(root, "ask", "Where will the ferry go?", "--article", "skarholm-ferry.txt")
    assert "Skarholm" in asked.stdout and "seeds/added/skarholm-ferry.txt" in asked.stdout, asked.stdout
    removed = _cli(root, "remove", "skarholm-ferry.txt")
    assert removed.returncode == 0 and "Removed skarholm-ferry.txt" in removed.stdout
    refused = _cli(root, "remove", ARTICLE.name)
    assert refused.returncode == 2 and "seed article" in refused.stderr
    assert "skarholm" not in _cli(root, "list").stdout


def test_an_add_killed_midway_is_finished_at_the_next_start(root, lib):
    """The process is killed as soon as its file is in place, before the index holds it: the next start embeds
    it. Nothing is half-written: no .part file is left, and the file is whole."""
    big = "\n\n".join(HARBOUR.replace("14 million", f"{n} million") for n in range(200))  # ~400 passages
    env = {**os.environ, "ASSISTANT_ROOT": str(root), "ASSISTANT_INDEX_DIR": str(root / "index")}
    code = "import sys; from assistant.library import add; from assistant.config import Settings; "
    code += "from assistant.index import build_or_load; from assistant.documents import load_documents; "
    code += "s = Settings.from_env(); add(sys.stdin.read(), s, 'Big Harbour'); "
    code += "build_or_load(load_documents(s.seeds, s.root), s)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, env=env, text=True)
    proc.stdin.write(big)
    proc.stdin.close()
    target = lib.added / "big-harbour.txt"
    deadline = time.monotonic() + 120
    while not target.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert target.read_text(encoding="utf-8") == clean(big)  # whole
    from assistant.answering import Assistant

    again = Assistant(lib)
    assert "seeds/added/big-harbour.txt" in _indexed_sources(again)
    assert not list(lib.added.glob(".*.part"))


# == the page's panel =========================================================================================


def test_a_page_open_to_the_network_has_no_add_panel_unless_allowed(lib):
    from types import SimpleNamespace

    from assistant.documents import load_documents
    from assistant.ui import build_app, can_add

    assert can_add(Settings(host="127.0.0.1")) and can_add(Settings(host="::1"))
    assert not can_add(Settings(host="0.0.0.0")) and not can_add(Settings(host="192.168.1.20"))
    assert can_add(Settings(host="0.0.0.0", allow_add=True))
    assert not can_add(Settings(host="127.0.0.1", allow_add=False))
    docs = load_documents(lib.seeds, lib.root)
    engine = SimpleNamespace(
        documents=docs, source_text=lambda s: docs[0].text, add=None, articles=lambda: articles(lib)
    )

    def panel(host: str, allow: bool | None = None) -> bool:
        demo = build_app(engine, Settings(host=host, allow_add=allow, feedback_path=lib.root / "fb.jsonl"))
        return any(c.get("props", {}).get("elem_id") == "add-article" for c in demo.config["components"])

    assert panel("127.0.0.1") and not panel("0.0.0.0") and panel("0.0.0.0", allow=True)


def test_html_in_an_added_article_is_shown_as_text_never_as_html(lib):
    from assistant.rendering import render_article

    pasted = HARBOUR + "\nA reader wrote <script>alert(1)</script> and <img src=x onerror=alert(2)> in the text.\n"
    article = add(pasted, lib, title="Tags as text")
    text = (lib.root / article.source).read_text(encoding="utf-8")
    pane = render_article([(article.source, text)], article.source, [])
    assert "<script>" not in pane and "<img" not in pane
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pane and "&lt;img src=x onerror=alert(2)&gt;" in pane


def test_the_pages_add_handler_reports_each_step_and_every_problem(lib):
    """The handlers over a stand-in engine that stores through the real library (no index, no model): every
    update fills the panel's eight outputs; a problem is shown as text in the progress line, nothing stored."""
    from types import SimpleNamespace

    from assistant.adding import LibraryHandlers
    from assistant.documents import load_documents

    class Engine(SimpleNamespace):
        def add(self, given, title=None, progress=None):
            progress("Reading the article …")
            article = add(given, lib, title)
            progress("Stored; indexing it …")
            self.documents = load_documents(lib.seeds, lib.root)
            return article

        def remove(self, name):
            article = remove(name, lib)
            self.documents = load_documents(lib.seeds, lib.root)
            return article

    engine = Engine(documents=load_documents(lib.seeds, lib.root), articles=lambda: articles(lib))
    engine.source_text = lambda source: (lib.root / source).read_text(encoding="utf-8")
    h = LibraryHandlers(engine)
    nothing = list(h.add(None, "  ", "", {}))
    assert len(nothing) == 1 and len(nothing[0]) == 8 and "Choose a file" in nothing[0][0]
    refused = list(h.add(None, "Too short.", "<b>x</b>", {}))
    assert all(len(u) == 8 for u in refused) and "too short" in refused[-1][0] and "add-error" in refused[-1][0]
    steps = list(h.add(None, HARBOUR, "Harbour <Lights>", {"source": None}))
    assert all(len(u) == 8 for u in steps)
    assert "Added harbour-lights.txt" in steps[-1][0] and steps[-1][3]["source"] == "seeds/added/harbour-lights.txt"
    assert 'data-source="seeds/added/harbour-lights.txt"' in steps[-1][2]
    assert h.added() == ["harbour-lights.txt"]
    gone = h.remove("harbour-lights.txt", steps[-1][3])
    assert len(gone) == 5 and "Removed harbour-lights.txt" in gone[0] and gone[3]["source"] is None
    assert "seed article" in h.remove(ARTICLE.name, {})[0]
