"""The chat page: its layout, and the wiring of its events to the handlers in ``chat`` (no answering logic).

Left: the conversation, streamed sentence by sentence while the model writes, then the answer with clickable
[n] chips. Right: the article itself; a chip scrolls it to the cited span and highlights exactly ``start:end``
(``rendering``). ``serve`` builds the engine and the page and serves it, never shared, local by default.
"""

import ipaddress
import logging
import os
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from .config import Settings
from .library import KINDS
from .rendering import ALL_ARTICLES, ARTICLE_JS, CSS
from .schema import AssistantError

log = logging.getLogger(__name__)

EXAMPLES = [
    "Summarize the article",
    "Why is Azerbaijan betting on Syria?",
    "Who is Ahmad Al-Sharaa?",
    "Who led the Azerbaijani delegation?",
]
TITLE = "Ask the article"


def build_app(engine, ui: Settings):
    """The Gradio Blocks page for ``engine`` (an ``Assistant`` or anything with the same ``stream``)."""
    import gradio as gr

    from .adding import LibraryHandlers
    from .chat import ChatHandlers  # gradio is imported only when a page is built

    h = ChatHandlers(engine, ui)
    lib = LibraryHandlers(engine) if can_add(ui) and hasattr(engine, "add") else None
    theme = gr.themes.Default(
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "Consolas", "monospace"],
    )
    with gr.Blocks(title=TITLE, fill_width=True) as demo:
        page = _layout(gr, h, lib)
        _wire_chat(h, page)
        _wire_api(gr, h, page.state)
        # A page opened after an article was added (by another reader) lists it: the choices are read at load.
        if lib is None:
            demo.load(h.picker, None, [page.picker], queue=False, show_progress="hidden")
        else:
            outputs = [page.picker, page.library.removable]
            demo.load(lambda: (h.picker(), lib.removable()), None, outputs, queue=False, show_progress="hidden")
    demo.queue(max_size=ui.queue_size, default_concurrency_limit=1)
    demo._ui_launch_kwargs = {"theme": theme, "css": CSS}
    return demo


def _layout(gr, h, lib) -> SimpleNamespace:
    """The page's components: the conversation, the question box and buttons, examples, the article pane."""
    from .chat import new_state

    state = gr.State(new_state())
    gr.Markdown(
        f"## {TITLE}\nAnswers come only from the article on the right, with numbered citations; "
        "click a number to see the exact sentence. When no checked answer can be written, the article's closest "
        "sentences are quoted as they stand, or, if nothing is close, you get *“The article does not say.”*"
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
                    elem_id="question", show_label=False, placeholder="Ask about the article…", lines=1, max_lines=4,
                    scale=5, autofocus=True,
                )  # fmt: skip
                ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
                clear = gr.Button("Start over", variant="secondary", scale=1, min_width=100, elem_id="start-over")
            gr.Markdown("Examples:", elem_classes=["examples-label"])
            with gr.Row(elem_id="examples"):
                examples = [gr.Button(q, size="sm", variant="secondary", min_width=120) for q in EXAMPLES]
        with gr.Column(scale=2, min_width=320):
            picker = gr.Dropdown(
                [ALL_ARTICLES, *h.sources], value=ALL_ARTICLES, label="Answer from", elem_id="article-picker",
                visible=len(h.sources) > 1, interactive=True,
            )  # fmt: skip
            library = _library_panel(gr, lib) if lib is not None else None
            article = gr.HTML(h.initial_article, elem_id="article-pane", js_on_load=ARTICLE_JS, label="Article")
    return SimpleNamespace(state=state, chat=chat, box=box, ask=ask, clear=clear, examples=examples, picker=picker,
                           article=article, library=library)  # fmt: skip


def _library_panel(gr, lib) -> SimpleNamespace:
    """"Add an article": a file or pasted text, an optional title, and a progress line; removing an added one."""
    with gr.Accordion("Add an article", open=False, elem_id="add-article"):
        file = gr.File(
            label="A file: .txt, .md, .html or .pdf", file_types=sorted(KINDS), type="filepath", elem_id="add-file"
        )
        text = gr.Textbox(label="…or paste its text", lines=4, max_lines=12, elem_id="add-text")
        title = gr.Textbox(label="Title (optional)", lines=1, elem_id="add-title")
        add = gr.Button("Add", variant="primary", elem_id="add-button")
        progress = gr.HTML("", elem_id="add-progress")
        with gr.Row(equal_height=True):
            removable = gr.Dropdown(
                lib.added(), value=None, label="Remove an added article", elem_id="remove-picker", scale=3
            )
            remove = gr.Button("Remove", variant="stop", elem_id="remove-button", scale=1, min_width=90)
    return SimpleNamespace(file=file, text=text, title=title, add=add, progress=progress, removable=removable,
                           remove=remove, handlers=lib)  # fmt: skip


def _wire_chat(h, page: SimpleNamespace) -> None:
    """Ask / Enter / an example: start (at once), respond, finish.

    ``respond`` runs for every waiting question at once (up to the queue size): each waits in ``h.line``, the
    page's own first-come line, which tells it its place and expected wait; only the front one uses the model."""
    # start, finish and reset never wait in Gradio's queue: when it is full they still run, so the page says
    # "busy" and its Ask button comes back. vote and pick stay queued (their toasts need the queue).
    light = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
    queued = {"queue": True, "concurrency_limit": None, "show_progress": "hidden", "api_visibility": "private"}
    state, chat, box, ask, article = page.state, page.chat, page.box, page.ask, page.article
    triggers = [(box.submit, box), (ask.click, box)] + [(b.click, b) for b in page.examples]
    answering = []
    for trigger, source in triggers:
        step = trigger(h.start, [source, state], [box, chat, state, ask], **light)
        step = step.then(
            h.respond, [state], [chat, state, article], api_visibility="private", concurrency_id="model",
            concurrency_limit=h.line.capacity, show_progress="hidden",
        )  # fmt: skip
        answering.append(step)
        # Gradio's page runs a .then() step only after a step that completed; after one refused (a full queue)
        # or failed it runs .failure() steps instead, so finish is wired to both outcomes (never to both at once).
        step.success(h.finish, [state], [chat, state, ask], **light)
        step.failure(h.finish, [state], [chat, state, ask], **light)
    for event in (page.clear.click, chat.clear):
        event(h.reset, [page.picker], [chat, state, article, box, ask], cancels=answering, **light)
    chat.like(h.vote, [state], None, **queued)
    page.picker.change(h.pick, [page.picker, state], [state, article], **queued)
    if page.library is not None:
        _wire_library(page.library.handlers, page)


def _wire_library(lib, page: SimpleNamespace) -> None:
    """Adds and removes queue one at a time (``concurrency_id="library"``), beside the questions, never mixed."""
    p = page.library
    one = {"concurrency_id": "library", "concurrency_limit": 1, "show_progress": "hidden", "api_visibility": "private"}
    p.add.click(
        lib.add, [p.file, p.text, p.title, page.state],
        [p.progress, page.picker, page.article, page.state, p.removable, p.file, p.text, p.title], **one,
    )  # fmt: skip
    p.remove.click(lib.remove, [p.removable, page.state], [p.progress, page.picker, page.article, page.state,
                   p.removable], **one)  # fmt: skip


def _wire_api(gr, h, state) -> None:
    """The same conversation for programs (gradio_client ``/ask``), queued with the page's questions."""
    api_question = gr.Textbox(visible=False)
    api_new = gr.Checkbox(visible=False)
    api_article = gr.Textbox("", visible=False)
    api_result = gr.JSON(visible=False)
    api_button = gr.Button(visible=False)
    api_button.click(
        h.api_ask, [api_question, api_new, api_article, state], [api_result, state], api_name="ask",
        api_visibility="public", concurrency_id="model", concurrency_limit=h.line.capacity, show_progress="hidden",
    )  # fmt: skip


def _warm(engine) -> None:
    """Load the model and its evaluated prompt prefix (saved next to the index) before the first user asks."""
    try:
        engine.warm_all()
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


def can_add(ui: Settings) -> bool:
    """Adding writes to the disk: on by default only when the page can be reached from this machine alone
    (``ASSISTANT_ALLOW_ADD`` decides otherwise)."""
    return ui.allow_add if ui.allow_add is not None else is_loopback(ui.host)


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
        max_file_size="20mb",  # an article's file; its text is limited again after extraction (max_article_chars)
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
