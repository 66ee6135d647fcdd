"""The chat page: a thin Gradio shell over ``Assistant.stream`` (no answering logic lives here).

Left: the conversation, streamed while the model writes, then the answer with clickable [n] chips and a
"Sources" list. Right: the article itself; a chip scrolls it to the cited span and highlights exactly
``start:end``. Everything a user sees is built here as escaped HTML; the small script in ``ARTICLE_JS``
does the highlighting in the browser by walking the article's text nodes (offsets sent in UTF-16 units).
"""

import html
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote as urlquote

from .config import Settings
from .schema import Answer, AssistantError, Citation

log = logging.getLogger(__name__)

EXAMPLES = [
    "Who led the Azerbaijani delegation?",
    "What sectors did the discussions cover?",
    "When did Azerbaijan reopen its embassy in Damascus?",
    "Where did Aliyev and Al-Sharaa meet?",
]
TITLE = "Ask the article"


# -- settings the page needs beyond config.Settings (to move into config.py) --------------------------
@dataclass
class UISettings:
    host: str = "127.0.0.1"
    port: int = 7860
    feedback_path: Path | None = None  # default: <root>/reports/feedback.jsonl
    queue_size: int = 32

    @classmethod
    def from_env(cls, settings: Settings, **overrides: Any) -> "UISettings":
        env = os.environ.get
        values = cls(
            host=env("ASSISTANT_HOST") or cls.host,
            port=int(env("ASSISTANT_PORT") or cls.port),
            feedback_path=Path(env("ASSISTANT_FEEDBACK_PATH") or settings.root / "reports" / "feedback.jsonl"),
            queue_size=int(env("ASSISTANT_QUEUE_SIZE") or cls.queue_size),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(values, key, Path(value) if key == "feedback_path" else value)
        return values


# -- feedback ------------------------------------------------------------------------------------------
class FeedbackError(Exception):
    pass


class FeedbackLog:
    """Appends one JSON object per line; a thread lock and a file lock keep concurrent writers whole."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict) -> None:
        from filelock import FileLock, Timeout

        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, FileLock(str(self.path) + ".lock", timeout=10):
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(line)
                    f.flush()
                    os.fsync(f.fileno())
        except (OSError, Timeout) as exc:
            raise FeedbackError(f"Could not save feedback to {self.path}: {exc}") from exc


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


def render_answer(answer: Answer, source_text, decision=None) -> str:
    if answer.abstained:
        return render_abstention(answer, decision, source_text)
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
    sources = "".join(
        f"<li>{chip(c.source, c.start, c.end, str(c.n), source_text(c.source), 'Show in the article')} "
        f'<q>{_inline(c.quote)}</q> <span class="src-loc">{esc(Path(c.source).name)}, '
        f"characters {c.start}–{c.end}</span></li>"
        for c in answer.citations
    )
    meta = _meta(answer)
    return (
        f'<div class="msg-answer"><p class="answer-text">{"".join(parts)}</p>'
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


def render_streaming(partial: str) -> str:
    return f'<div class="msg-streaming">{_inline(partial)}<span class="cursor">▍</span></div>'


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
            piece = esc(text[a:b])
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
def _new_state() -> dict:
    return {"messages": [], "turns": [], "pending": None, "session": uuid.uuid4().hex[:12]}


def build_app(engine, ui: UISettings):
    """The Gradio Blocks page for ``engine`` (an ``Assistant`` or anything with the same ``stream``)."""
    import gradio as gr

    feedback = FeedbackLog(ui.feedback_path or engine.settings.root / "reports" / "feedback.jsonl")
    sources = [d.source for d in getattr(engine, "documents", [])]

    def docs() -> list[tuple[str, str]]:
        return [(s, engine.source_text(s)) for s in sources]

    initial_article = render_article(docs(), sources[0] if sources else None, [])

    def start(question: str, state: dict):
        """Show the question at once (outside the queue) and leave a waiting note for the answer."""
        state = dict(state)
        if state.get("pending") is not None:
            gr.Info("Please wait for the current answer to finish.")
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        msgs = list(state["messages"])
        question = question if isinstance(question, str) else ""
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
        yield msgs, state, gr.skip()
        partial, decision, answer = "", None, None
        try:
            for kind, value in engine.stream(question, history):
                if kind == "token":
                    partial += value
                    if partial.strip():
                        msgs[slot] = {"role": "assistant", "content": render_streaming(partial)}
                        yield msgs, state, gr.skip()
                elif kind == "decision":
                    decision = value
                elif kind == "answer":
                    answer = value
            if answer is None:
                raise AssistantError("The assistant gave no answer.")
        except AssistantError as exc:
            msgs[slot] = {"role": "assistant", "content": render_error(str(exc))}
            state.update(messages=msgs, pending=None)
            yield msgs, state, gr.skip()
            return
        except Exception as exc:  # never a traceback on the page
            log.exception("answering failed")
            oops = f"Something went wrong on the server ({type(exc).__name__}). Please try again."
            msgs[slot] = {"role": "assistant", "content": render_error(oops)}
            state.update(messages=msgs, pending=None)
            yield msgs, state, gr.skip()
            return
        msgs[slot] = {"role": "assistant", "content": render_answer(answer, engine.source_text, decision)}
        turns = list(state["turns"])
        turns.append(
            {"question": question, "text": answer.text, "answer": answer.model_dump(mode="json"), "message": slot}
        )
        state.update(messages=msgs, turns=turns, pending=None)
        active = answer.citations[0].source if answer.citations else None
        yield msgs, state, render_article(docs(), active, answer.citations)

    def finish(state: dict):
        """After the queued step, whatever happened to it (also when the queue was full)."""
        state = dict(state)
        msgs = list(state["messages"])
        if state.get("pending") is not None and msgs:
            msgs[-1] = {
                "role": "assistant",
                "content": render_error("The server is busy (too many questions waiting). Please try again shortly."),
            }
            state.update(messages=msgs, pending=None)
        return msgs, state, gr.update(interactive=True)

    def reset():
        return [], _new_state(), initial_article, "", gr.update(interactive=True)

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
            event(reset, None, [chat, state, article, box, ask], cancels=answering, api_visibility="private", **light)
        chat.like(vote, [state], None, api_visibility="private", **light)

    demo.queue(max_size=ui.queue_size, default_concurrency_limit=1)
    demo._ui_launch_kwargs = {"theme": theme, "css": CSS}
    return demo


def _warm(engine) -> None:
    """Load the model and let it read the article once, so that the first user does not wait for either.

    llama.cpp keeps the evaluated prompt prefix (instructions + article), so later questions start writing
    within seconds; without this the first question after start-up waits for the whole article to be read.
    """
    try:
        engine.chat  # noqa: B018 - loads the model
        for _ in engine.stream(EXAMPLES[0]):
            pass
    except AssistantError as exc:
        log.warning("Model not loaded yet: %s", exc)
    except Exception:  # pragma: no cover - shown again when a question is asked
        log.exception("Model warm-up failed")


def serve(settings: Settings, host: str | None = None, port: int | None = None, feedback: Path | None = None):
    """Build the engine and the page, print the address, and serve until interrupted (never shared)."""
    import click

    from .answering import Assistant

    ui = UISettings.from_env(settings, host=host, port=port, feedback_path=feedback)
    t0 = time.perf_counter()
    engine = Assistant(settings)
    demo = build_app(engine, ui)
    try:
        demo.launch(
            server_name=ui.host,
            server_port=ui.port,
            share=False,
            quiet=True,
            prevent_thread_lock=True,
            show_error=False,
            footer_links=["api", "settings"],
            run_history=False,
            enable_monitoring=False,
            ssr_mode=False,
            mcp_server=False,
            **demo._ui_launch_kwargs,
        )
    except OSError as exc:
        raise AssistantError(f"Cannot serve the chat page on {ui.host}:{ui.port}: {exc}") from exc
    shown = "127.0.0.1" if ui.host in ("0.0.0.0", "") else ui.host
    click.echo(f"Chat page ready in {time.perf_counter() - t0:.0f} s: http://{shown}:{ui.port}/", err=False)
    click.echo(f"Feedback is saved to {ui.feedback_path}. Press Ctrl-C to stop.")
    sys.stdout.flush()
    # Load the model now, not at the first question (after printing: llama.cpp mutes stdout while loading).
    threading.Thread(target=_warm, args=(engine,), daemon=True).start()
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
