"""The chat page's HTML, built from an ``Answer``: every text escaped, every citation a chip.

A chip links to ``start:end`` of its file in UTF-16 units (what the browser counts); the small script in
``ARTICLE_JS`` scrolls the article pane to that span and highlights exactly it by walking the text nodes.
"""

import html
import re
from pathlib import Path
from urllib.parse import quote as urlquote

from .schema import Answer, Citation


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
    if answer.status == "quoted":
        return render_quote(answer, decision, source_text)
    if answer.abstained:
        return render_abstention(answer, decision, source_text)
    meta = _meta(answer)
    return (
        f'<div class="msg-answer"><p class="answer-text">{_with_chips(answer, source_text)}</p>'
        f"{_sources(answer, source_text)}{meta}</div>"
    )


def _sources(answer: Answer, source_text, title: str = "Sources") -> str:
    items = "".join(
        f"<li>{chip(c.source, c.start, c.end, str(c.n), source_text(c.source), 'Show in the article')} "
        f'<q>{_inline(c.quote)}</q> <span class="src-loc">{esc(Path(c.source).name)}, '
        f"characters {c.start}–{c.end}</span></li>"
        for c in answer.citations
    )
    return f'<div class="sources"><div class="sources-title">{esc(title)}</div><ol>{items}</ol></div>'


def render_quote(answer: Answer, decision, source_text) -> str:
    """A quoted reply: set apart from an answer (no claim of the assistant's own), the article's words with chips."""
    reasons = "; ".join(getattr(decision, "reasons", None) or [])
    why = f'<div class="abstain-why">Not answered in its own words because {esc(reasons)}.</div>' if reasons else ""
    return (
        f'<div class="msg-quote"><div class="quote-head"><span class="quote-icon" aria-hidden="true">❝</span> '
        f'<span class="quote-text">{_with_chips(answer, source_text)}</span></div>'
        f'<div class="abstain-note">These are the article\'s own sentences, quoted as they stand; no answer is '
        f"written from them.</div>{why}{_sources(answer, source_text, 'Quoted')}{_meta(answer)}</div>"
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


def render_queued(ahead: int, wait: float | None) -> str:
    """A question waiting in line: how many are ahead of it and, once answers have been timed, the wait."""
    people = "1 question is" if ahead == 1 else f"{ahead} questions are"
    about = f" About {max(1, round(wait))} s to wait." if wait is not None else ""
    return (
        '<div class="msg-waiting msg-queued"><span class="spinner" aria-hidden="true"></span> '
        f"Waiting for your turn: {people} ahead of yours (the model writes one answer at a time).{about}</div>"
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


ALL_ARTICLES = "All articles"  # the picker's choice of answering from every article


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
.msg-quote { border-left: 4px solid #c9a227; padding: 0.25rem 0 0.25rem 0.75rem; }
.msg-quote .quote-text { font-style: italic; }
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
