"""The ``assistant`` command: a thin shell over the library (ask, chat, index, ui, eval)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from .config import Settings
from .schema import Answer, AssistantError


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj


def format_answer(a: Answer) -> str:
    lines = [a.text]
    if a.citations:
        lines.append("")
        lines.append("Sources:")
        for c in a.citations:
            lines.append(f"  [{c.n}] {c.source}:{c.start}-{c.end}  “{c.quote}”")
    return "\n".join(lines)


def _fail(exc: Exception) -> None:
    click.echo(f"Error: {exc}", err=True)
    sys.exit(2)


@click.group()
@click.option("--seeds", type=click.Path(path_type=Path), help="Folder of source documents (ASSISTANT_SEEDS_DIR).")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Store folder (ASSISTANT_INDEX_DIR).")
@click.option("--k", type=int, help="Passages retrieved per question (ASSISTANT_K).")
@click.option("--backend", type=click.Choice(["llamacpp", "openai"]), help="Model backend (ASSISTANT_BACKEND).")
@click.option("--llm-url", help="OpenAI-compatible base URL (ASSISTANT_LLM_URL).")
@click.option("-v", "--verbose", is_flag=True)
@click.pass_context
def main(ctx, seeds, index_dir, k, backend, llm_url, verbose):
    """Answer questions about the articles in seeds/, with citations to exact spans."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    ctx.obj = Settings.from_env(seeds_dir=seeds, index_dir=index_dir, k=k, backend=backend, llm_url=llm_url)


def _assistant(settings: Settings, progress: bool = False):
    from .answering import Assistant

    return Assistant(settings, progress=progress)


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as JSON.")
@click.pass_context
def ask(ctx, question, as_json):
    """Answer one question."""
    try:
        a = _assistant(_settings(ctx)).answer(question)
    except AssistantError as exc:
        _fail(exc)
    click.echo(a.model_dump_json(indent=2) if as_json else format_answer(a))


@main.command()
@click.option("--force", is_flag=True, help="Rebuild even when the store is up to date.")
@click.pass_context
def index(ctx, force):
    """Build or rebuild the vector store under index/."""
    from .documents import load_documents
    from .index import build_or_load

    s = _settings(ctx)
    try:
        idx = build_or_load(load_documents(s.seeds, s.root), s, progress=True, force=force)
    except AssistantError as exc:
        _fail(exc)
    state = "built" if idx.built else "up to date"
    click.echo(f"Index {state}: {len(idx.passages)} passages in {s.index}")


@main.command()
@click.pass_context
def chat(ctx):
    """A conversation in the terminal (empty line or Ctrl-D to quit)."""
    try:
        a = _assistant(_settings(ctx))
    except AssistantError as exc:
        _fail(exc)
    history: list[tuple[str, str]] = []
    click.echo("Ask about the article. Empty line to quit.")
    while True:
        try:
            q = input("> ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not q:
            break
        try:
            ans = a.answer(q, history)
        except AssistantError as exc:
            click.echo(f"Error: {exc}")
            continue
        click.echo(format_answer(ans) + "\n")
        history.append((q, ans.text))


if __name__ == "__main__":  # pragma: no cover
    main()
