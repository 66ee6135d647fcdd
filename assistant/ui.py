"""The chat page: a thin Gradio shell over ``Assistant.stream`` (no answering logic lives here).

Left: the conversation, streamed while the model writes, then the answer with clickable [n] chips and a
"Sources" list. Right: the article itself; a chip scrolls it to the cited span and highlights exactly
``start:end``. Everything a user sees is built here as escaped HTML; the small script in ``ARTICLE_JS``
does the highlighting in the browser by walking the article's text nodes (offsets sent in UTF-16 units).
"""

import html
import ipaddress
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote as urlquote

from .config import Settings
from .schema import Answer, AssistantError, Citation

log = logging.getLogger(__name__)

EXAMPLES = [
    "Summarize the article",
    "Why is Azerbaijan betting on Syria?",
    "Who is Ahmad Al-Sharaa?",
    "Who led the Azerbaijani delegation?",
]
TITLE = "Ask the article"
BUSY = "The server is busy (too many questions waiting). Please try again shortly."


# -- feedback ------------------------------------------------------------------------------------------
class FeedbackError(Exception):
    pass


class FeedbackLog:
    """Appends one JSON object per line; a thread lock and a file lock keep concurrent writers whole.

    Each line is written with one ``write`` to a file opened for appending; when the write fails part-way
    (disk full), the file is cut back to its previous length, so a failed vote never leaves half a line.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict) -> None:
        from filelock import FileLock, Timeout

        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            data = line.encode("utf-8")
        except UnicodeEncodeError:  # invalid Unicode (lone surrogates): keep it, escaped
            data = (json.dumps(record) + "\n").encode("ascii")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, FileLock(str(self.path) + ".lock", timeout=10):
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    start = os.lseek(fd, 0, os.SEEK_END)
                    try:
                        view = memoryview(data)
                        while view:
                            view = view[os.write(fd, view) :]
                        os.fsync(fd)
                    except OSError:
                        _truncate(fd, start)
                        raise
                finally:
                    os.close(fd)
        except (OSError, Timeout) as exc:
            raise FeedbackError(f"Could not save feedback to {self.path}: {exc}") from exc


def _truncate(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
    except OSError:  # pragma: no cover - nothing more can be done
        pass


# -- HTML pieces (all text escaped) --------------------------------------------------------------------
def esc(text: str) -> str:
    """Escape for HTML text and attributes; CR kept as a reference because parsers turn CRLF into LF."""
    return html.escape(text, quote=True).replace("\r", "&#13;")


def u16(text: str, i: int) -> int:
    """Python offset -> UTF-16 offset (what JavaScript string and text-node lengths count)."""
    return len(text[:i].encode("utf-16-le")) // 2


def chip(source: str, start: int, end: int, label: str, text: str, title: str = "") -> str:
    href = f"#cite?src={urlquote(source, safe='')}&s={u16(text, start)}&e={u16(text, end)}&n={urlquote(label)}"
    return f'<a class="cite-chip" href="{esc(href)}" title="{esc(title)}">{esc(label)}</a>'


def _short(text: str, limit: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _inline(text: str) -> str:
    """Escaped text on one HTML line (a blank line would end Markdown's raw-HTML block)."""
    return esc(text).replace("\n", "<br>")


_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: object) -> str:
    """Text from the network made safe to show, store and serialise: lone surrogates (invalid Unicode, which
    JSON encoders refuse) become U+FFFD and control characters are dropped; anything not text becomes ""."""
    if not isinstance(text, str):
        return ""
    return _UNSAFE.sub("", _SURROGATE.sub("\ufffd", text))


def _with_chips(answer: Answer, source_text) -> str:
    """The answer's text with each [n] as a chip that shows its span in the article."""
    by_n = {c.n: c for c in answer.citations}
    parts, pos = [], 0
    for m in re.finditer(r"\[(\d+)\]", answer.text):
        c = by_n.get(int(m.group(1)))
        parts.append(_inline(answer.text[pos : m.start()]))
        if c is None:
            parts.append(esc(m.group(0)))
        else:
            parts.append(chip(c.source, c.start, c.end, str(c.n), source_text(c.source), _short(c.quote, 160)))
        pos = m.end()
    parts.append(_inline(answer.text[pos:]))
    return "".join(parts)


def render_answer(answer: Answer, source_text, decision=None) -> str:
    if answer.abstained:
        return render_abstention(answer, decision, source_text)
    sources = "".join(
        f"<li>{chip(c.source, c.start, c.end, str(c.n), source_text(c.source), 'Show in the article')} "
        f'<q>{_inline(c.quote)}</q> <span class="src-loc">{esc(Path(c.source).name)}, '
        f"characters {c.start}–{c.end}</span></li>"
        for c in answer.citations
    )
    meta = _meta(answer)
    return (
        f'<div class="msg-answer"><p class="answer-text">{_with_chips(answer, source_text)}</p>'
        f'<div class="sources"><div class="sources-title">Sources</div><ol>{sources}</ol></div>{meta}</div>'
    )


def render_abstention(answer: Answer, decision, source_text) -> str:
    reasons = "; ".join(getattr(decision, "reasons", None) or [])
    why = f'<div class="abstain-why">Why: {esc(reasons)}.</div>' if reasons else ""
    # Titles and one-word lines ("Comments") are not useful as "closest passages".
    hits = [h for h in getattr(decision, "hits", None) or [] if len(h.passage.text.strip()) >= 60][:3]
    closest = ""
    if hits:
        items = "".join(
            f"<li>{chip(p.source, p.start, p.end, f'¶{i}', source_text(p.source), 'Show this passage')} "
            f"<span>{esc(_short(p.text))}</span></li>"
            for i, p in enumerate((h.passage for h in hits), 1)
        )
        closest = f'<div class="closest"><div class="sources-title">Closest passages</div><ol>{items}</ol></div>'
    return (
        f'<div class="msg-abstain"><div class="abstain-head"><span class="abstain-icon" aria-hidden="true">∅</span> '
        f"<strong>{esc(answer.text)}</strong></div>"
        f'<div class="abstain-note">No sentence of the article answers this, so no answer is given.</div>'
        f"{why}{closest}{_meta(answer)}</div>"
    )


def _meta(answer: Answer) -> str:
    total = answer.timings.get("total_s")
    when = f"{total:.1f} s" if total is not None else ""
    bits = " · ".join(b for b in (when, answer.model) if b)
    return f'<div class="answer-meta">{esc(bits)}</div>' if bits else ""


def render_error(message: str) -> str:
    return (
        f'<div class="msg-error"><span class="error-icon" aria-hidden="true">⚠</span> '
        f"<strong>Could not answer:</strong> {_inline(message)}</div>"
    )


def render_waiting() -> str:
    return (
        '<div class="msg-waiting"><span class="spinner" aria-hidden="true"></span> '
        "Waiting for your turn: the model writes one answer at a time…</div>"
    )


def render_reading() -> str:
    return '<div class="msg-waiting"><span class="spinner" aria-hidden="true"></span> Reading the article…</div>'


def render_streaming(partial: str, checked: Answer | None = None, source_text=None) -> str:
    """While the model writes: the sentences already checked, with their chips, then the words in progress."""
    done = ""
    if checked is not None and checked.sentences and source_text is not None:
        done = f'<span class="checked">{_with_chips(checked, source_text)}</span> '
    tail = f'<span class="writing">{_inline(partial)}</span>' if partial.strip() else ""
    return f'<div class="msg-streaming">{done}{tail}<span class="cursor">▍</span></div>'


_GAP = re.compile(r"\n[ \t\u00a0\u2000-\u200b\u3000]*(?:\n[ \t\u00a0\u2000-\u200b\u3000]*){2,}")


def _text_html(text: str) -> str:
    """Escaped text in which a run of blank (or non-breaking-space) lines shows as one paragraph break.

    The extra lines stay in the page, hidden, so that character offsets still count the file as it is.
    """
    out, pos = [], 0
    for m in _GAP.finditer(text):
        out.append(esc(text[pos : m.start()]) + "\n\n")
        out.append(f'<span class="blank-lines">{esc(text[m.start() + 2 : m.end()])}</span>')
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def render_article(docs: list[tuple[str, str]], active: str | None, cited: list[Citation]) -> str:
    """Every source (only ``active`` shown), with the spans of ``cited`` wrapped in <mark>."""
    if not docs:
        return '<div class="article-pane"><p>No sources.</p></div>'
    active = active if active in {s for s, _ in docs} else docs[0][0]
    blocks = []
    for source, text in docs:
        spans = sorted((c.start, c.end, c.n) for c in cited if c.source == source and 0 <= c.start < c.end)
        cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
        body = []
        for a, b in zip(cuts, cuts[1:], strict=False):
            ns = [n for s, e, n in spans if s <= a and b <= e]
            piece = _text_html(text[a:b])
            body.append(f'<mark class="cited" title="[{",".join(map(str, ns))}]">{piece}</mark>' if ns else piece)
        hidden = "" if source == active else " doc-hidden"
        blocks.append(
            f'<section class="doc{hidden}" data-source="{esc(source)}">'
            f'<div class="doc-name">{esc(Path(source).name)}</div>'
            f'<div class="doc-text">{"".join(body)}</div></section>'
        )
    return f'<div class="article-scroll">{"".join(blocks)}</div>'


# -- browser side --------------------------------------------------------------------------------------
ARTICLE_JS = r"""
const paneOf = () => document.getElementById('article-pane');
window.citeShow = function (src, s, e) {
  const pane = paneOf();
  if (!pane) return false;
  let target = null;
  pane.querySelectorAll('section.doc').forEach((d) => {
    const on = d.getAttribute('data-source') === src;
    d.classList.toggle('doc-hidden', !on);
    if (on) target = d;
  });
  if (!target) return false;
  pane.querySelectorAll('span.cite-active').forEach((sp) => sp.replaceWith(...sp.childNodes));
  const body = target.querySelector('.doc-text');
  body.normalize();
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  const pieces = [];
  let pos = 0, node;
  while ((node = walker.nextNode())) {
    const len = node.data.length, a = Math.max(s, pos), b = Math.min(e, pos + len);
    if (a < b) pieces.push([node, a - pos, b - pos]);
    pos += len;
    if (pos >= e) break;
  }
  let first = null;
  for (const [n, x, y] of pieces) {
    let mid = x > 0 ? n.splitText(x) : n;
    if (y - x < mid.data.length) mid.splitText(y - x);
    const sp = document.createElement('span');
    sp.className = 'cite-active';
    mid.parentNode.insertBefore(sp, mid);
    sp.appendChild(mid);
    first = first || sp;
  }
  if (first) {
    const box = pane.querySelector('.article-scroll');
    if (box) box.scrollTop += first.getBoundingClientRect().top - box.getBoundingClientRect().top
      - box.clientHeight / 3;
    const r = pane.getBoundingClientRect();
    if (r.bottom < 0 || r.top > window.innerHeight) pane.scrollIntoView({block: 'start'});
  }
  return !!first;
};
if (!window.__citeChips) {
  window.__citeChips = true;
  document.addEventListener('click', (ev) => {
    const a = ev.target && ev.target.closest ? ev.target.closest('a[href^="#cite?"]') : null;
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    const p = new URLSearchParams(a.getAttribute('href').slice(6));
    document.querySelectorAll('a.cite-chip.chip-on').forEach((c) => c.classList.remove('chip-on'));
    a.classList.add('chip-on');
    window.citeShow(p.get('src'), Number(p.get('s')), Number(p.get('e')));
  }, true);
}
watch('value', () => {
  const pane = paneOf();
  const m = pane && pane.querySelector('section.doc:not(.doc-hidden) mark.cited');
  const box = pane && pane.querySelector('.article-scroll');
  if (m && box) box.scrollTop += m.getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientHeight / 3;
});
"""

CSS = """
#article-pane .article-scroll { max-height: 72vh; overflow-y: auto; padding: 0.5rem 1rem;
  border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
  background: var(--background-fill-primary); }
#article-pane .doc-hidden { display: none; }
#article-pane .doc-name { font-size: 0.8rem; color: var(--body-text-color-subdued); margin: 0.25rem 0 0.5rem;
  position: sticky; top: 0; background: var(--background-fill-primary); padding: 0.25rem 0; }
#article-pane .doc-text { white-space: pre-wrap; line-height: 1.6; font-size: 0.95rem; }
#article-pane .blank-lines { display: none; }
.msg-streaming .writing { opacity: 0.6; }
#article-pane mark.cited { background: rgba(255, 213, 79, 0.45); color: inherit; border-radius: 2px; }
#article-pane span.cite-active { background: #ffb74d; color: #000; border-bottom: 2px solid #e65100;
  box-decoration-break: clone; -webkit-box-decoration-break: clone; }
a.cite-chip { display: inline-block; min-width: 1.4em; padding: 0 0.4em; margin: 0 0.1em; border-radius: 999px;
  background: var(--color-accent-soft, #e0e7ff); color: var(--color-accent, #4338ca) !important; font-size: 0.8em;
  font-weight: 600; text-align: center; text-decoration: none !important; line-height: 1.5; vertical-align: 0.1em;
  border: 1px solid var(--color-accent, #4338ca); cursor: pointer; }
a.cite-chip:hover, a.cite-chip.chip-on { background: var(--color-accent, #4338ca); color: #fff !important; }
.sources { margin-top: 0.5rem; padding-top: 0.4rem; border-top: 1px solid var(--border-color-primary);
  font-size: 0.9em; }
.sources-title { font-weight: 600; font-size: 0.85em; text-transform: uppercase; letter-spacing: 0.04em;
  opacity: 0.75; }
.sources ol, .closest ol { margin: 0.25rem 0 0 0; padding-left: 1.2rem; }
.sources q { font-style: italic; }
.src-loc, .answer-meta { color: var(--body-text-color-subdued); font-size: 0.8em; }
.msg-abstain { border-left: 4px solid #9e9e9e; padding: 0.25rem 0 0.25rem 0.75rem; }
.msg-abstain .abstain-head { font-size: 1.05em; }
.abstain-icon { display: inline-block; width: 1.5em; height: 1.5em; line-height: 1.5em; text-align: center;
  border-radius: 50%; background: #9e9e9e; color: #fff; font-weight: 700; }
.abstain-note, .abstain-why { color: var(--body-text-color-subdued); font-size: 0.9em; }
.closest { margin-top: 0.4rem; font-size: 0.9em; }
.msg-error { border-left: 4px solid #d32f2f; padding: 0.25rem 0 0.25rem 0.75rem; color: #b71c1c; }
#chat .message-row:has(.msg-error, .msg-waiting, .msg-streaming) + .message-buttons { display: none; }
.msg-waiting { color: var(--body-text-color-subdued); font-style: italic; }
.spinner { display: inline-block; width: 0.9em; height: 0.9em; border: 2px solid currentColor;
  border-right-color: transparent; border-radius: 50%; animation: spin 0.8s linear infinite; vertical-align: -0.1em; }
@keyframes spin { to { transform: rotate(360deg); } }
.msg-streaming .cursor { animation: blink 1s steps(1) infinite; opacity: 0.6; }
@keyframes blink { 50% { opacity: 0; } }
"""


# -- the page ------------------------------------------------------------------------------------------
ALL_ARTICLES = "All articles"


def _new_state() -> dict:
    """A conversation's state. Its session id is given at the first question: Gradio copies the initial value of
    a ``gr.State`` into every session, so an id made here would be shared by all of them."""
    return {"messages": [], "turns": [], "pending": None, "error": None, "asked": 0, "session": None, "source": None}


def build_app(engine, ui: Settings):
    """The Gradio Blocks page for ``engine`` (an ``Assistant`` or anything with the same ``stream``)."""
    import gradio as gr

    feedback = FeedbackLog(ui.feedback)
    sources = [d.source for d in getattr(engine, "documents", [])]

    def docs() -> list[tuple[str, str]]:
        return [(s, engine.source_text(s)) for s in sources]

    initial_article = render_article(docs(), sources[0] if sources else None, [])

    def pick(choice: str, state: dict):
        """'All articles' or one source: later questions are answered from it alone; the pane shows it."""
        state = dict(state)
        state["source"] = choice if choice in sources else None
        return state, render_article(docs(), state["source"] or (sources[0] if sources else None), [])

    def start(question: str, state: dict):
        """Show the question at once (outside the queue) and leave a waiting note for the answer."""
        state = dict(state)
        if state.get("pending") is not None:
            gr.Info("Please wait for the current answer to finish.")
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        msgs = list(state["messages"])
        state["session"] = state.get("session") or uuid.uuid4().hex[:12]
        question = clean_text(question)
        if question.strip():
            msgs.append({"role": "user", "content": _inline(_short(question, 300))})
        msgs.append({"role": "assistant", "content": render_waiting()})
        state.update(messages=msgs, pending=question)
        return "", msgs, state, gr.update(interactive=False)

    def respond(state: dict):
        """Stream one answer; the only event that touches the model (queued, one at a time)."""
        state = dict(state)
        question = state.get("pending")
        msgs = list(state["messages"])
        if question is None or not msgs:
            yield msgs, state, gr.skip()
            return
        slot = len(msgs) - 1
        history = [(t["question"], t["text"]) for t in state["turns"]]
        msgs[slot] = {"role": "assistant", "content": render_reading()}
        state.update(asked=state.get("asked", 0) + 1, error=None)
        yield msgs, state, gr.skip()
        partial, checked, decision, answer = "", None, None, None
        try:
            for kind, value in engine.stream(question, history, state.get("source")):
                if kind in ("token", "sentence"):
                    partial, checked = (partial + value, checked) if kind == "token" else ("", value)
                    shown = render_streaming(partial, checked, engine.source_text)
                    msgs[slot] = {"role": "assistant", "content": shown}
                    yield msgs, state, gr.skip()
                elif kind == "decision":
                    decision = value
                elif kind == "answer":
                    answer = value
            if answer is None:
                raise AssistantError("The assistant gave no answer.")
        except AssistantError as exc:
            msgs[slot] = {"role": "assistant", "content": render_error(str(exc))}
            state.update(messages=msgs, pending=None, error=str(exc))
            yield msgs, state, gr.skip()
            return
        except Exception as exc:  # never a traceback on the page
            log.exception("answering failed")
            oops = f"Something went wrong on the server ({type(exc).__name__}). Please try again."
            msgs[slot] = {"role": "assistant", "content": render_error(oops)}
            state.update(messages=msgs, pending=None, error=oops)
            yield msgs, state, gr.skip()
            return
        msgs[slot] = {"role": "assistant", "content": render_answer(answer, engine.source_text, decision)}
        turns = list(state["turns"])
        reasons = list(getattr(decision, "reasons", None) or [])
        turns.append(
            {
                "question": question,
                "text": answer.text,
                "answer": answer.model_dump(mode="json"),
                "reasons": reasons,
                "message": slot,
            }
        )
        state.update(messages=msgs, turns=turns, pending=None)
        active = answer.citations[0].source if answer.citations else None
        yield msgs, state, render_article(docs(), active, answer.citations)

    def finish(state: dict):
        """After the queued step, whatever happened to it (also when the queue was full)."""
        state = dict(state)
        msgs = list(state["messages"])
        if state.get("pending") is not None and msgs:
            msgs[-1] = {"role": "assistant", "content": render_error(BUSY)}
            state.update(messages=msgs, pending=None, error=BUSY)
        return msgs, state, gr.update(interactive=True)

    def api_ask(question: str, new_conversation: bool, article: str, state: dict):
        """The chat for programs (``Client(url).predict(question, False, api_name="/ask")``): the page's own steps
        (start, respond, finish) in this session's conversation, or a new one; returns the outcome as JSON.
        ``article`` (optional) limits this conversation to one source, as the page's picker does."""
        state = dict(state)
        if state.get("pending") is not None:
            return {"error": "Please wait for the current answer to finish.", "session": state.get("session")}, state
        if new_conversation:
            state.update(messages=[], turns=[])
        if article:
            state["source"] = article
        before = len(state["turns"])
        _, _, state, _ = start(question, state)
        asked = state["pending"]
        *_, (_, state, _) = respond(state)  # run the whole (streaming) step; keep its last state
        _, state, _ = finish(state)
        turn = state["turns"][-1] if len(state["turns"]) > before else None
        answer = (turn or {}).get("answer") or {}
        result = {
            "question": asked,
            "text": answer.get("text", ""),
            "abstained": bool(answer.get("abstained", False)),
            "citations": answer.get("citations", []),
            "reasons": (turn or {}).get("reasons", []),
            "error": None if turn else state.get("error") or "No answer was produced.",
            "session": state.get("session"),
            "asked": state.get("asked", 0),
            "turns": len(state["turns"]),
        }
        return result, state

    def reset(choice: str | None = None):
        state = _new_state()
        state["source"] = choice if choice in sources else None  # starting over keeps the article picked
        pane = render_article(docs(), state["source"], []) if state["source"] else initial_article
        return [], state, pane, "", gr.update(interactive=True)

    def vote(state: dict, data: gr.LikeData):
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        turn = next((t for t in state["turns"] if t["message"] == index), None)
        if turn is None:
            gr.Info("Only answers can be rated.")
            return
        liked = data.liked
        vote_ = "up" if liked is True else "down" if liked is False else (liked or "withdrawn")
        ans = turn["answer"]
        record = {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "session": state.get("session"),
            "question": turn["question"],
            "answer": ans["text"],
            "abstained": ans["abstained"],
            "citations": ans["citations"],
            "vote": vote_,
            "model": ans.get("model", ""),
        }
        try:
            feedback.append(record)
        except FeedbackError as exc:
            log.warning("%s", exc)
            gr.Warning(f"Your vote was not saved: {exc}")
            return
        gr.Info("Thanks, your feedback was saved.")

    theme = gr.themes.Default(
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "Consolas", "monospace"],
    )
    with gr.Blocks(title=TITLE, fill_width=True) as demo:
        state = gr.State(_new_state())
        gr.Markdown(
            f"## {TITLE}\nAnswers come only from the article on the right, with numbered citations; "
            "click a number to see the exact sentence. Questions the article does not answer get "
            "*“The article does not say.”*"
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                chat = gr.Chatbot(
                    elem_id="chat",
                    label="Conversation",
                    height=560,
                    latex_delimiters=[],
                    buttons=[],
                    group_consecutive_messages=False,
                    feedback_options=("Like", "Dislike"),
                    placeholder="Ask a question about the article, or pick an example below.",
                )
                with gr.Row(equal_height=True):
                    box = gr.Textbox(
                        elem_id="question",
                        show_label=False,
                        placeholder="Ask about the article…",
                        lines=1,
                        max_lines=4,
                        scale=5,
                        autofocus=True,
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
                    clear = gr.Button("Start over", variant="secondary", scale=1, min_width=100, elem_id="start-over")
                gr.Markdown("Examples:", elem_classes=["examples-label"])
                with gr.Row(elem_id="examples"):
                    example_buttons = [gr.Button(q, size="sm", variant="secondary", min_width=120) for q in EXAMPLES]
            with gr.Column(scale=2, min_width=320):
                picker = gr.Dropdown(
                    [ALL_ARTICLES, *sources],
                    value=ALL_ARTICLES,
                    label="Answer from",
                    elem_id="article-picker",
                    visible=len(sources) > 1,
                    interactive=True,
                )
                article = gr.HTML(initial_article, elem_id="article-pane", js_on_load=ARTICLE_JS, label="Article")

        light = {"queue": True, "concurrency_limit": None, "show_progress": "hidden"}
        triggers = [(box.submit, box), (ask.click, box)] + [(b.click, b) for b in example_buttons]
        answering = []
        for trigger, source in triggers:
            step = trigger(start, [source, state], [box, chat, state, ask], api_visibility="private", **light)
            step = step.then(
                respond,
                [state],
                [chat, state, article],
                api_visibility="private",
                concurrency_id="model",
                concurrency_limit=1,
                show_progress="full",
                show_progress_on=[chat],
            )
            answering.append(step)
            step.then(finish, [state], [chat, state, ask], api_visibility="private", **light)
        for event in (clear.click, chat.clear):
            outputs = [chat, state, article, box, ask]
            event(reset, [picker], outputs, cancels=answering, api_visibility="private", **light)
        chat.like(vote, [state], None, api_visibility="private", **light)
        picker.change(pick, [picker, state], [state, article], api_visibility="private", **light)

        # The same conversation for programs (gradio_client), queued with the page's questions for the model.
        api_question = gr.Textbox(visible=False)
        api_new = gr.Checkbox(visible=False)
        api_article = gr.Textbox("", visible=False)
        api_result = gr.JSON(visible=False)
        api_button = gr.Button(visible=False)
        api_button.click(
            api_ask,
            [api_question, api_new, api_article, state],
            [api_result, state],
            api_name="ask",
            api_visibility="public",
            concurrency_id="model",
            concurrency_limit=1,
            show_progress="hidden",
        )

    demo.queue(max_size=ui.queue_size, default_concurrency_limit=1)
    demo._ui_launch_kwargs = {"theme": theme, "css": CSS}
    return demo


def _warm(engine) -> None:
    """Load the model and its evaluated prompt prefix (saved next to the index) before the first user asks."""
    try:
        engine.warm()
    except AssistantError as exc:
        log.warning("Model not loaded yet: %s", exc)
    except Exception:  # pragma: no cover - shown again when a question is asked
        log.exception("Model warm-up failed")


def parse_auth(spec: str | None) -> tuple[str, str] | None:
    """``user:password`` (the password may itself contain ':') -> (user, password); None when not given.

    The error never repeats the value, so a mistyped password is not printed."""
    if spec is None or not spec.strip():
        return None
    user, sep, password = spec.partition(":")
    if not sep or not user.strip() or not password:
        raise AssistantError("--auth / ASSISTANT_AUTH must be given as user:password (both non-empty).")
    return user.strip(), password


def is_loopback(host: str) -> bool:
    """True when ``host`` can only be reached from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def launch_options(ui: Settings, auth: tuple[str, str] | None) -> dict:
    """Everything ``Blocks.launch`` is given: never shared, local unless told otherwise, optional password."""
    return dict(
        server_name=ui.host,
        server_port=ui.port,
        share=False,
        auth=auth,
        auth_message="Sign in to ask the article." if auth else None,
        max_file_size="1mb",  # the page takes no uploads; Gradio's upload route is capped all the same
        quiet=True,
        prevent_thread_lock=True,
        show_error=False,
        footer_links=["api", "settings"],
        run_history=False,
        enable_monitoring=False,
        ssr_mode=False,
        mcp_server=False,
    )


def serve(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    feedback: Path | None = None,
    auth: str | None = None,
):
    """Build the engine and the page, print the address, and serve until interrupted (never shared).

    ``auth`` ("user:password", else ASSISTANT_AUTH) asks for a sign-in; the password is never printed or logged.
    Binding to an address other machines can reach without it prints a warning."""
    import click

    from .answering import Assistant

    ui = settings.model_copy(update={k: v for k, v in dict(host=host, port=port, feedback_path=feedback).items() if v})
    credentials = parse_auth(auth if auth is not None else os.environ.get("ASSISTANT_AUTH"))
    if ui.queue_size < 1:
        raise AssistantError(f"ASSISTANT_QUEUE_SIZE must be at least 1 (got {ui.queue_size}).")
    if not is_loopback(ui.host) and credentials is None:
        warning = (
            f"WARNING: the chat page is bound to {ui.host or '0.0.0.0'}, so other machines can reach it, and no "
            "password is set. Use --auth user:password (or ASSISTANT_AUTH), or --host 127.0.0.1."
        )
        log.warning(warning)
        click.echo(warning, err=True)
    t0 = time.perf_counter()
    engine = Assistant(settings)
    demo = build_app(engine, ui)
    try:
        demo.launch(**launch_options(ui, credentials), **demo._ui_launch_kwargs)
    except OSError as exc:
        raise AssistantError(f"Cannot serve the chat page on {ui.host}:{ui.port}: {exc}") from exc
    shown = "127.0.0.1" if ui.host in ("0.0.0.0", "", "::") else ui.host
    signin = f" (sign-in required as {credentials[0]!r})" if credentials else ""
    click.echo(f"Chat page ready in {time.perf_counter() - t0:.0f} s: http://{shown}:{ui.port}/{signin}", err=False)
    click.echo(f"Feedback is saved to {ui.feedback}. Press Ctrl-C to stop.")
    sys.stdout.flush()
    # Load the model now, not at the first question (after printing: llama.cpp mutes stdout while loading).
    threading.Thread(target=_warm, args=(engine,), daemon=True).start()
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
