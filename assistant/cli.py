"""The ``assistant`` command: a thin shell over the library (ask, chat, add, list, remove, index, ui, eval …)."""

from __future__ import annotations

import logging
import sys
import time
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
@click.option(
    "--seeds", "--source", type=click.Path(path_type=Path), help="Folder of source documents (ASSISTANT_SEEDS_DIR)."
)
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Store folder (ASSISTANT_INDEX_DIR).")
@click.option("--k", type=int, help="Passages retrieved per question (ASSISTANT_K).")
@click.option("--backend", type=click.Choice(["llamacpp", "openai"]), help="Model backend (ASSISTANT_BACKEND).")
@click.option("--llm-url", help="OpenAI-compatible base URL (ASSISTANT_LLM_URL).")
@click.option("--chroma-url", help="Chroma server instead of the embedded store (ASSISTANT_CHROMA_URL).")
@click.option("-v", "--verbose", is_flag=True)
@click.pass_context
def main(ctx, seeds, index_dir, k, backend, llm_url, chroma_url, verbose):
    """Answer questions about the articles in seeds/, with citations to exact spans."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    from pydantic import ValidationError

    try:
        ctx.obj = Settings.from_env(
            seeds_dir=seeds, index_dir=index_dir, k=k, backend=backend, llm_url=llm_url, chroma_url=chroma_url
        )
    except ValidationError as exc:  # a mistyped ASSISTANT_* variable: name it, no traceback
        bad = "; ".join(f"ASSISTANT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        _fail(AssistantError(f"invalid setting ({bad})"))


def _assistant(settings: Settings, progress: bool = False):
    from .answering import Assistant

    return Assistant(settings, progress=progress)


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as JSON.")
@click.option("--article", help="Answer from this article only (its file name or path); default: all.")
@click.pass_context
def ask(ctx, question, as_json, article):
    """Answer one question."""
    try:
        a = _assistant(_settings(ctx)).answer(question, source=article)
    except AssistantError as exc:
        _fail(exc)
    click.echo(a.model_dump_json(indent=2) if as_json else format_answer(a))


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH... | -")
@click.option("--title", help="The article's title (default: the one found in the file, else its first line).")
@click.pass_context
def add(ctx, paths, title):
    """Add articles to ask about: .txt, .md, .html/.htm or .pdf files, or text on standard input (-)."""
    try:
        assistant = _assistant(_settings(ctx))
    except AssistantError as exc:
        _fail(exc)
    failed = 0
    for given in paths:
        source = sys.stdin.read() if given == "-" else Path(given)
        try:
            article = assistant.add(source, title=title, progress=lambda line: click.echo(line, err=True))
        except AssistantError as exc:
            click.echo(f"Error: {exc}", err=True)
            failed += 1
            continue
        click.echo(f"Added {article.name} ({article.chars:,} characters): {article.title}")
    if failed:
        sys.exit(2)


@main.command("list")
@click.pass_context
def list_articles(ctx):
    """The articles answered from: name, seed or added, size, title."""
    from . import library

    try:
        for article in library.articles(_settings(ctx)):
            click.echo(str(article))
    except AssistantError as exc:
        _fail(exc)


@main.command()
@click.argument("name")
@click.pass_context
def remove(ctx, name):
    """Remove an added article (its file, index entries and saved model state); seed articles stay."""
    try:
        article = _assistant(_settings(ctx)).remove(name)
    except AssistantError as exc:
        _fail(exc)
    click.echo(f"Removed {article.name}")


@main.command()
@click.option("--force", is_flag=True, help="Rebuild even when the store is up to date.")
@click.pass_context
def index(ctx, force):
    """Bring the vector store up to date: embed added or changed documents, drop removed ones."""
    from .documents import load_documents
    from .index import build_or_load

    s = _settings(ctx)
    try:
        idx = build_or_load(load_documents(s.seeds, s.root), s, progress=True, force=force)
    except AssistantError as exc:
        _fail(exc)
    state = "built" if idx.built else "up to date"
    delta = ", ".join(f"{v} {k}" for k, v in idx.changes.items())
    click.echo(f"Index {state}: {len(idx.passages)} passages in {idx.location} ({delta})")


@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Where to write the model (default: the shipped one).")
@click.pass_context
def calibrate(ctx, files, out):
    """Refit the quote model on calibration data (default: ../shared/eval/squad2_calib_600w.jsonl and
    quail_calib.jsonl). Never give it the evaluation files: they report results."""
    from .calibration import calibrate as fit
    from .calibration import default_files
    from .outcomes import MODEL_FILE

    s = _settings(ctx)
    paths = list(files) or default_files(s)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        _fail(AssistantError(f"calibration data not found: {', '.join(missing)}"))
    try:
        model = fit(paths, s, out or MODEL_FILE, progress=lambda m: click.echo(m, err=True))
    except AssistantError as exc:
        _fail(exc)
    f = model.fitted
    click.echo(
        f"Quote model fitted on {f['examples']} questions ({f['useful']} with the answer in their closest sentences): "
        f"cross-validated AUC {f['cv_auc']}, threshold {model.threshold} -> {out or MODEL_FILE}"
    )


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


@main.command("eval")
@click.argument("sets", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Report folder [reports/eval-<time>/].")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Earlier results.json.")
@click.option("--min", "minimums", multiple=True, metavar="METRIC=VALUE", help="Fail below this (0.8 or 80%).")
@click.option("--max", "maximums", multiple=True, metavar="METRIC=VALUE", help="Fail above this (latency_p95_s=5).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N selected questions of each set.")
@click.option("--sample", type=click.IntRange(min=1), help="N questions spread evenly over each set.")
@click.option("--tags", multiple=True, help="Only questions with any of these tags (comma-separated or repeated).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Parallel questions (openai).")
@click.option("--failures-only", is_flag=True, help="List only the questions that did not pass.")
@click.option(
    "--ablation", is_flag=True, help="Record every abstention signal; write the ablation table and the curve too."
)
@click.pass_context
def eval_command(ctx, sets, out, baseline, minimums, maximums, limit, sample, tags, jobs, failures_only, ablation):
    """Run question sets (YAML or SQuAD .jsonl) and report pass/fail, metrics and regressions.

    Exits 1 on a pass->fail regression against --baseline or a metric outside --min/--max.
    The local model answers one question at a time, so --jobs helps only with --backend openai.
    """
    from .evaluation import eval_command as run_eval

    settings = _settings(ctx)
    if ablation:  # every signal evaluated for every question, so each can be switched off afterwards
        settings = settings.model_copy(update={"check_all": True})
        out = out or settings.root / "reports" / f"ablation-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        opts = dict(out=out, baseline=baseline, minimums=minimums, maximums=maximums, limit=limit, sample=sample)
        opts["tags"] = tags
        code = run_eval(settings, list(sets), jobs=jobs, failures_only=failures_only, **opts)
    except AssistantError as exc:
        _fail(exc)
    if ablation:
        from .ablation import write_report

        table = write_report(out / "results.json")
        click.echo("\nAblation (each abstention signal switched off in turn):\n" + table.read_text())
        click.echo(f"Ablation: {table}  {table.parent / 'abstention_curve.png'}")
    ctx.exit(code)


@main.command()
@click.option("--host", help="Address to listen on (ASSISTANT_HOST; default 127.0.0.1, this machine only).")
@click.option("--port", type=int, help="Port (ASSISTANT_PORT; default 7860).")
@click.option(
    "--feedback",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSONL file for thumbs up/down (ASSISTANT_FEEDBACK_PATH; default reports/feedback.jsonl).",
)
@click.option(
    "--auth",
    metavar="USER:PASSWORD",
    help="Ask for this sign-in (ASSISTANT_AUTH, which keeps the password out of the process list).",
)
@click.pass_context
def ui(ctx, host, port, feedback, auth):
    """Serve the chat page in the browser (local only unless --host says otherwise; never shared publicly)."""
    from .ui import serve

    try:
        serve(_settings(ctx), host=host, port=port, feedback=feedback, auth=auth)
    except AssistantError as exc:
        _fail(exc)


if __name__ == "__main__":  # pragma: no cover
    main()
