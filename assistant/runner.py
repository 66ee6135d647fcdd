"""Running an evaluation: question sets through the assistant (``run_sets``), the run's metadata (git
revision, prompts fingerprint, settings), thresholds on the metrics, the comparison with a baseline run, and
``assistant eval`` itself (``eval_command``).

One answer is judged by ``assistant.judging``; the metrics are ``assistant.metrics``; what is printed and
written is ``assistant.reports``. ``assistant.evaluation`` re-exports all of them.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import click
from tqdm import tqdm

from .config import Settings
from .judging import run_question
from .metrics import METRICS, PASSED, format_metric, summarize
from .questions import Question, QuestionSet
from .questionsets import load_question_set
from .reports import comparison_lines, run_lines, write_reports
from .schema import AssistantError

REPORT_VERSION = 1

# -- thresholds and baseline ----------------------------------------------------------------------------------


def parse_threshold(spec: str, set_names: Iterable[str] = ()) -> tuple[str | None, str, float]:
    """``"answer_accuracy=0.8"``, ``"article.abstention_recall=90%"`` -> (set or None, metric, value)."""
    name, sep, value = spec.partition("=")
    name = name.strip()
    if not sep or not name:
        raise AssistantError(f"Threshold {spec!r} must look like METRIC=VALUE, e.g. answer_accuracy=0.8.")
    set_name, _, metric = name.rpartition(".")
    if metric not in METRICS:
        raise AssistantError(f"Unknown metric {metric!r} in {spec!r}; known metrics: {', '.join(METRICS)}.")
    names = set(set_names)
    if set_name and names and set_name not in names:
        raise AssistantError(f"Unknown question set {set_name!r} in {spec!r}; the sets are: {', '.join(names)}.")
    try:
        v = value.strip()
        number = float(v[:-1]) / 100 if v.endswith("%") else float(v)
    except ValueError as exc:
        raise AssistantError(f"Threshold {spec!r}: {value!r} is not a number (use 0.8 or 80%).") from exc
    return set_name or None, metric, number


def check_thresholds(summary: dict, minimums: Iterable[str] = (), maximums: Iterable[str] = ()) -> list[str]:
    """The threshold violations as messages (empty when all hold); a metric not computed violates."""
    problems = []
    for specs, is_min in ((minimums, True), (maximums, False)):
        for spec in specs:
            set_name, metric, bound = parse_threshold(spec, summary["sets"])
            block = summary["sets"].get(set_name) if set_name else summary["all"]
            value = block["metrics"].get(metric) if block else None
            label = f"{set_name}.{metric}" if set_name else metric
            if value is None:
                problems.append(f"{label} was not computed (nothing to measure), required {spec.split('=', 1)[1]}")
            elif (value < bound) if is_min else (value > bound):
                word = "below the minimum" if is_min else "above the maximum"
                problems.append(f"{label} = {format_metric(metric, value)} is {word} {format_metric(metric, bound)}")
    return problems


def load_run(path: Path | str) -> dict:
    """A results.json written by an earlier ``assistant eval``."""
    path = Path(path)
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AssistantError(f"Cannot read the baseline {path}: {exc}") from exc
    if not isinstance(run, dict) or not isinstance(run.get("results"), list):
        raise AssistantError(f"{path} is not an 'assistant eval' results.json (no 'results' list).")
    return run


def compare(baseline: dict, current: dict) -> dict:
    """Questions that went pass -> fail (regressions) and fail -> pass (fixes), with both answers.

    A regression on a question now marked ``known_failure`` is listed but not counted in ``regressions``'
    exit decision (``blocking``). Metric deltas cover the ``all`` block.
    """
    before = {r["key"]: r for r in baseline["results"]}
    after = {r["key"]: r for r in current["results"]}

    def pair(key: str) -> dict:
        b, a = before[key], after[key]
        return {
            "key": key,
            "set": a["set"],
            "id": a["id"],
            "question": a["question"],
            "known_failure": a["known_failure"],
            "before": {"status": b["status"], "answer": b["answer"], "why": b.get("why", "")},
            "after": {"status": a["status"], "answer": a["answer"], "why": a["why"]},
        }

    common = [k for k in after if k in before]
    regressions = [pair(k) for k in common if before[k]["status"] in PASSED and after[k]["status"] not in PASSED]
    fixes = [pair(k) for k in common if before[k]["status"] not in PASSED and after[k]["status"] in PASSED]
    b_metrics = baseline.get("summary", {}).get("all", {}).get("metrics", {})
    a_metrics = current["summary"]["all"]["metrics"]
    deltas = {m: [b_metrics.get(m), a_metrics.get(m)] for m in METRICS if b_metrics.get(m) != a_metrics.get(m)}
    return {
        "baseline": baseline.get("meta", {}).get("started", ""),
        "baseline_git": baseline.get("meta", {}).get("git", {}),
        "regressions": regressions,
        "fixes": fixes,
        "blocking": [r["key"] for r in regressions if not r["known_failure"]],
        "new": [k for k in after if k not in before],
        "missing": [k for k in before if k not in after],
        "metric_deltas": deltas,
    }


# -- running --------------------------------------------------------------------------------------------------


def prompts_fingerprint(settings: Settings) -> dict:
    """sha256 of every file under the prompts folder, and one over all of them (names and contents)."""
    files, total = {}, hashlib.sha256()
    folder = settings.prompts
    for p in sorted(x for x in folder.rglob("*") if x.is_file()) if folder.is_dir() else []:
        data = p.read_bytes()
        rel = p.relative_to(folder).as_posix()
        files[rel] = hashlib.sha256(data).hexdigest()
        total.update(rel.encode() + b"\0" + data + b"\0")
    return {"sha256": total.hexdigest(), "files": files, "folder": str(folder)}


def git_revision(root: Path) -> dict:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    rev = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if rev else None
    return {"revision": rev, "dirty": bool(status) if status is not None else None}


def _settings_record(settings: Settings) -> dict:
    data = settings.model_dump(mode="json")
    if data.get("llm_api_key") not in (None, "", "not-needed"):
        data["llm_api_key"] = "***"
    return data


def _group_by_context(questions: list[Question]) -> list[tuple[str | None, list[Question]]]:
    groups: dict[str | None, list[Question]] = {}
    for q in questions:
        groups.setdefault(q.context, []).append(q)
    return list(groups.items())


def _settings_for(qset: QuestionSet, context: str | None, settings: Settings, tmp: Path) -> Settings:
    """SQuAD: the article's context is the only source (a temp seeds folder, a temp store). YAML: the set's
    ``sources`` when given and different from the configured seeds (with a temp store), else the settings."""
    if context is not None:
        base = tmp / f"{qset.name}-{context}"
        seeds = base / "seeds"
        seeds.mkdir(parents=True, exist_ok=True)
        (seeds / f"{context}.txt").write_text(qset.contexts[context] + "\n", encoding="utf-8")
        return settings.model_copy(
            update={"root": base, "seeds_dir": seeds, "index_dir": base / "index", "prompts_dir": settings.prompts}
        )
    if qset.sources is not None and qset.sources != settings.seeds:
        return settings.model_copy(update={"seeds_dir": qset.sources, "index_dir": tmp / f"{qset.name}-index"})
    return settings


def run_sets(
    qsets: list[QuestionSet],
    settings: Settings,
    tags: list[str] | None = None,
    limit: int | None = None,
    jobs: int = 1,
    progress: bool = True,
    make_assistant: Callable[[Settings], object] | None = None,
    partial: Path | None = None,
    sample: int | None = None,
) -> dict:
    """Run the selected questions of every set; return the run (meta, summary, results) as JSON-ready data.

    ``tags`` keeps questions having any of them; ``sample`` keeps N questions spread evenly over each set;
    ``limit`` keeps the first N selected questions of each set (in file order). With the local llama.cpp
    model answers are serialised (one model, one lock), so ``jobs`` > 1 only runs questions in parallel
    with ``backend=openai``. With ``partial``, each result is also appended to that JSON-lines file as soon
    as it is known, so an interrupted long run keeps its work.
    """
    if make_assistant is None:
        from .answering import Assistant

        make_assistant = Assistant
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    git, prompts = git_revision(settings.root), prompts_fingerprint(settings)  # as the run starts
    chosen = [(qs, qs.select(tags, limit, sample)) for qs in qsets]
    parallel = jobs if jobs > 1 and settings.backend == "openai" else 1
    results = _ask_all(chosen, settings, make_assistant, parallel, progress, partial)
    meta = {
        "report_version": REPORT_VERSION,
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - t0, 3),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "sets": [_set_record(qs, selected) for qs, selected in chosen],
        "options": {"limit": limit, "sample": sample, "tags": list(tags or []), "jobs": jobs, "parallel": parallel},
        **_environment(settings, results, git, prompts),
    }
    return {"meta": meta, "summary": summarize(results), "results": results}


def _ask_all(
    chosen: list[tuple[QuestionSet, list[Question]]],
    settings: Settings,
    make_assistant: Callable[[Settings], object],
    parallel: int,
    progress: bool,
    partial: Path | None,
) -> list[dict]:
    """Ask and judge every chosen question, with one assistant per set and context, in file order."""
    total = sum(len(qs) for _, qs in chosen)
    results: list[dict] = []
    lock = threading.Lock()
    if partial is not None:
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text("", encoding="utf-8")
    bar = tqdm(total=total, desc="Evaluating", unit="question", disable=not progress, file=sys.stderr)

    def record(r: dict) -> dict:
        with lock:
            bar.update(1)
            if partial is not None:
                with open(partial, "a", encoding="utf-8") as f:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
        return r

    with tempfile.TemporaryDirectory(prefix="assistant-eval-", ignore_cleanup_errors=True) as tmpdir:
        try:
            for qset, questions in chosen:
                for context, group in _group_by_context(questions):
                    assistant = make_assistant(_settings_for(qset, context, settings, Path(tmpdir)))
                    getattr(assistant, "chat", None)  # load the model now, not inside the first question's time

                    def one(q: Question, assistant=assistant, name=qset.name) -> dict:
                        return record(run_question(assistant, q, name))

                    if parallel > 1:
                        with ThreadPoolExecutor(parallel) as pool:
                            results.extend(pool.map(one, group))
                    else:
                        results.extend(one(q) for q in group)
        finally:
            bar.close()
            _release_stores()
    return results


def _set_record(qs: QuestionSet, selected: list[Question]) -> dict:
    return {
        "name": qs.name,
        "path": str(qs.path),
        "kind": qs.kind,
        "sha256": qs.sha256,
        "questions": len(qs.questions),
        "selected": len(selected),
    }


def _environment(settings: Settings, results: list[dict], git: dict, prompts: dict) -> dict:
    """The run's model, prompts, settings, revision and platform, for the report's metadata."""
    from . import llm as llm_mod

    return {
        "model": next((r["model"] for r in results if r["model"]), llm_mod.model_label(settings)),
        "prompts": prompts,
        "settings": _settings_record(settings),
        "k": settings.k,
        "git": git,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def _release_stores() -> None:
    """Let Chroma forget the temporary stores before their folder is deleted."""
    try:
        from .index import _reset_chroma_cache

        _reset_chroma_cache()
    except Exception:  # pragma: no cover - best effort
        pass


# -- the command ----------------------------------------------------------------------------------------------


def eval_command(
    settings: Settings,
    set_paths: list[Path],
    out: Path | None = None,
    baseline: Path | None = None,
    minimums: tuple[str, ...] = (),
    maximums: tuple[str, ...] = (),
    limit: int | None = None,
    tags: tuple[str, ...] = (),
    jobs: int = 1,
    failures_only: bool = False,
    echo: Callable[..., None] = click.echo,
    progress: bool = True,
    make_assistant: Callable[[Settings], object] | None = None,
    sample: int | None = None,
) -> int:
    """``assistant eval``: run, print the table and summary, write the reports; return the exit code
    (0: fine, 1: a pass→fail regression against the baseline or a threshold not met)."""
    qsets = _load_sets(set_paths, minimums, maximums)  # fail before the long run
    base = load_run(baseline) if baseline else None
    wanted = [t.strip() for spec in tags for t in spec.split(",") if t.strip()]
    if jobs > 1 and settings.backend != "openai":
        echo(
            f"Note: --jobs {jobs} is accepted, but the local llama.cpp model answers one question at a time "
            "(one model, one lock), so the questions run one after another.",
            err=True,
        )
    out = out or settings.root / "reports" / f"eval-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    partial = out / "results.partial.jsonl"
    run = run_sets(qsets, settings, wanted, limit, jobs, progress, make_assistant, partial=partial, sample=sample)
    if not run["results"]:
        raise AssistantError("No question was selected (check --tags, --sample and --limit).")
    run["thresholds"] = check_thresholds(run["summary"], minimums, maximums)
    if base is not None:
        run["comparison"] = compare(base, run)
    paths = write_reports(run, out)
    partial.unlink(missing_ok=True)  # complete: results.json holds everything
    for line in run_lines(run, failures_only):
        echo(line)
    code = _echo_verdict(run, echo)
    echo(f"Reports: {paths['json']}  {paths['junit']}  {paths['html']}")
    return code


def _load_sets(set_paths: list[Path], minimums: Iterable[str], maximums: Iterable[str]) -> list[QuestionSet]:
    """The question sets, with distinct names, and every threshold checked against them."""
    qsets = [load_question_set(p) for p in set_paths]
    names = [q.name for q in qsets]
    if len(set(names)) != len(names):
        raise AssistantError(f"Two question sets have the same name ({', '.join(names)}); rename one ('name:').")
    for spec in (*minimums, *maximums):
        parse_threshold(spec, names)
    return qsets


def _echo_verdict(run: dict, echo: Callable[..., None]) -> int:
    """Print the baseline comparison and the thresholds not met; 1 when either fails the run, else 0."""
    code = 0
    if "comparison" in run:
        echo("")
        for line in comparison_lines(run["comparison"]):
            echo(line)
        if run["comparison"]["blocking"]:
            echo(f"Regression: {len(run['comparison']['blocking'])} question(s) went from pass to fail.", err=True)
            code = 1
    for problem in run["thresholds"]:
        echo(f"Threshold not met: {problem}", err=True)
        code = 1
    return code
