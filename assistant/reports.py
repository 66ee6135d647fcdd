"""What a run looks like to people and CI: console lines, a readable account of one result, and the reports
(``results.json``, JUnit XML built with ``xml.etree.ElementTree``, and a self-contained HTML page rendered
from the Jinja2 template ``templates/report.html.j2`` with autoescaping on).

Every function here reads a run as ``runner.run_sets`` returns it (``meta``, ``summary``, ``results``, and
``thresholds`` and ``comparison`` when ``eval_command`` adds them); none changes it.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import jinja2

from .metrics import LABELS, METRICS, PASSED, format_fraction, format_metric

# -- console ------------------------------------------------------------------------------------------------


def summary_lines(block: dict, title: str) -> list[str]:
    c = block["counts"]
    lines = [
        f"{title}: {c['questions']} questions, {c['passed']} passed, {c['failed']} failed"
        f" ({c['xfail']} known failures, {c['xpass']} unexpectedly passing), {c['error']} errors"
    ]
    for m in METRICS:
        value = block["metrics"][m]
        if value is None and m.startswith(("squad", "reference", "sentence", "quail")):
            continue
        lines.append(f"  {LABELS[m]:<32} {format_metric(m, value):>8}  {format_fraction(block, m)}".rstrip())
    return lines


def table_lines(results: list[dict], failures_only: bool = False, width: int | None = None) -> list[str]:
    width = width or max(100, shutil.get_terminal_size((140, 20)).columns)
    multi = len({r["set"] for r in results}) > 1
    id_w = min(36, max([len(r["id"]) for r in results] + [2]))
    lines = [f"{'STATUS':<6} {'SET/ID' if multi else 'ID':<{id_w}}  WHY"]
    for r in results:
        if failures_only and r["status"] == "PASS":
            continue
        name = f"{r['set']}/{r['id']}" if multi else r["id"]
        why = r["why"]
        if r["status"] not in PASSED:
            if r["reasons"] and "abstained" not in why:
                why += f" [reasons: {'; '.join(r['reasons'])}]"
            if not r["abstained"] and r["answer"]:
                why += f" | answer: {r['answer']!r}"
        if r["status"] == "XFAIL":
            why = f"known failure: {r['known_failure']} | {why}"
        if r["status"] == "XPASS":
            why = f"passed although marked known_failure ({r['known_failure']})"
        line = f"{r['status']:<6} {name:<{id_w}}  {why}"
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    return lines


def comparison_lines(cmp: dict) -> list[str]:
    lines = [
        f"Compared with the baseline of {cmp['baseline'] or '?'}: {len(cmp['regressions'])} pass→fail, "
        f"{len(cmp['fixes'])} fail→pass, {len(cmp['new'])} new, {len(cmp['missing'])} missing"
    ]
    for title, items in (("pass→fail", cmp["regressions"]), ("fail→pass", cmp["fixes"])):
        for p in items:
            note = " (known failure)" if p["known_failure"] and title == "pass→fail" else ""
            lines.append(f"  {title}{note} {p['key']}: {p['question']}")
            lines.append(f"      before [{p['before']['status']}] {p['before']['answer']!r}")
            lines.append(f"      after  [{p['after']['status']}] {p['after']['answer']!r}  {p['after']['why']}")
    for m, (b, a) in cmp["metric_deltas"].items():
        lines.append(f"  {LABELS[m]:<32} {format_metric(m, b):>8} → {format_metric(m, a)}")
    return lines


def run_lines(run: dict, failures_only: bool = False) -> list[str]:
    """What ``assistant eval`` prints after a run: the table, the summaries, the model and revision."""
    lines = [*table_lines(run["results"], failures_only), ""]
    lines += summary_lines(run["summary"]["all"], "Summary")
    if len(run["summary"]["sets"]) > 1:
        for name, block in run["summary"]["sets"].items():
            lines += summary_lines(block, f"Set {name}")
    meta = run["meta"]
    lines.append(
        f"Model {meta['model']}, prompts {meta['prompts']['sha256'][:12]}, "
        f"git {(meta['git'].get('revision') or 'unknown')[:12]}{' (dirty)' if meta['git'].get('dirty') else ''}"
    )
    return lines


def _option_lines(r: dict) -> list[str]:
    """A QuAIL question's options, the gold one and the one the answer picked marked."""
    quail = r.get("quail")
    if not quail:
        return []
    lines = [f"  QuAIL     type {quail['type']}"]
    for i, option in enumerate(r["expected"]["options"]):
        marks = ("gold" if i == quail["gold"] else "") + (" chosen" if i == quail["chosen"] else "")
        lines.append(f"  option {i}  {option!r}  {marks.strip()}".rstrip())
    return lines


def failure_message(r: dict) -> str:
    """A readable account of one result, for pytest failures and the console."""
    lines = [f"{r['status']}: {r['set']}::{r['id']}  {r['why']}".rstrip()]
    for u, a in r["history"]:
        lines.append(f"  history   user: {u}\n            assistant: {a}")
    lines.append(f"  question  {r['question']}")
    if r["standalone"] and r["standalone"] != r["question"]:
        lines.append(f"  rewritten {r['standalone']}")
    exp = r["expected"]
    want = "an abstention" if r["expect_abstain"] else "an answer"
    for key in ("must_include", "cite", "reference", "answers"):
        if exp.get(key):
            want += f"; {key}={exp[key]!r}"
    lines.append(f"  expected  {want}")
    lines += _option_lines(r)
    lines.append(f"  answer    {r['answer']!r}" + (f"  (model wrote {r['raw']!r})" if r["raw"] else ""))
    for s in r.get("sentence_support") or []:
        cites = "".join(f"[{n}]" for n in s["citations"]) or "(no citations)"
        lacks = f"  lacks {', '.join(s['unsupported_words'])}" if s["unsupported_words"] else ""
        lines.append(f"  {'supported' if s['supported'] else 'UNSUPPORTED':<11} {s['text']!r} {cites}{lacks}")
    if r["reasons"]:
        lines.append(f"  reasons   {'; '.join(r['reasons'])}")
    for c in r["citations"]:
        lines.append(f"  [{c['n']}] {c['source']}:{c['start']}-{c['end']} {c['quote']!r}")
    if r["error"]:
        lines.append(f"  error     {r['error']}")
    return "\n".join(lines)


# -- JSON and JUnit -----------------------------------------------------------------------------------------


def write_json(run: dict, path: Path) -> None:
    path.write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _junit_counts(element: ET.Element, counts: dict) -> None:
    element.set("failures", str(counts["fail"] + counts["xpass"]))
    element.set("errors", str(counts["error"]))
    element.set("skipped", str(counts["xfail"]))


def _junit_case(suite: ET.Element, set_name: str, r: dict) -> None:
    """One question: XFAIL is <skipped>, XPASS a failure; the account of the result is its <system-out>."""
    case = ET.SubElement(
        suite, "testcase", classname=f"eval.{set_name}", name=r["id"], time=f"{r['timings'].get('total_s', 0):.3f}"
    )
    body = failure_message(r)
    if r["status"] == "FAIL":
        ET.SubElement(case, "failure", message=r["why"][:500], type="AssertionError").text = body
    elif r["status"] == "XPASS":
        msg = f"passed although marked known_failure: {r['known_failure']}"
        ET.SubElement(case, "failure", message=msg, type="XPASS").text = body
    elif r["status"] == "ERROR":
        ET.SubElement(case, "error", message=(r["error"] or "")[:500], type="AssistantError").text = body
    elif r["status"] == "XFAIL":
        ET.SubElement(case, "skipped", message=f"known failure: {r['known_failure']}").text = body
    ET.SubElement(case, "system-out").text = body


def _junit_suite(suites: ET.Element, run: dict, set_name: str, results: list[dict]) -> None:
    """One question set: its counts, the run's model, prompts and revision, its metrics, then its questions."""
    block, meta = run["summary"]["sets"][set_name], run["meta"]
    suite = ET.SubElement(suites, "testsuite", name=set_name, tests=str(len(results)))
    _junit_counts(suite, block["counts"])
    suite.set("time", f"{sum(r['timings'].get('total_s', 0.0) for r in results):.3f}")
    suite.set("timestamp", meta["started"])
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("model", meta["model"]),
        ("prompts_sha256", meta["prompts"]["sha256"]),
        ("git_revision", meta["git"].get("revision") or ""),
    ):
        ET.SubElement(props, "property", name=key, value=str(value))
    for m, v in block["metrics"].items():
        if v is not None:
            ET.SubElement(props, "property", name=f"metric.{m}", value=f"{v:.6g}")
    for r in results:
        _junit_case(suite, set_name, r)


def write_junit(run: dict, path: Path) -> None:
    """One <testsuite> per question set, one <testcase> per question; XFAIL is <skipped>, XPASS a failure."""
    results = run["results"]
    suites = ET.Element("testsuites", name="assistant eval", tests=str(len(results)))
    _junit_counts(suites, run["summary"]["all"]["counts"])
    suites.set("time", f"{run['meta']['duration_s']:.3f}")
    by_set: dict[str, list[dict]] = {}
    for r in results:
        by_set.setdefault(r["set"], []).append(r)
    for name, rs in by_set.items():
        _junit_suite(suites, run, name, rs)
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


# -- HTML ---------------------------------------------------------------------------------------------------

_COUNT_ROWS = ("questions", "pass", "fail", "xfail", "xpass", "error")


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("assistant", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template("report.html.j2")


def _highlight(quote: str, needles: list[str]) -> dict:
    """The quote cut around the first expected ``cite`` text found in it: ``before``, ``marked``, ``after``
    (``marked`` None when none is found); the template escapes each part and marks the middle one."""
    for needle in needles:
        words = needle.split()
        if not words:
            continue
        pattern = r"\s+".join("".join("['’]" if ch in "'’" else re.escape(ch) for ch in w) for w in words)
        m = re.search(pattern, quote, flags=re.IGNORECASE)
        if m:
            return {"before": quote[: m.start()], "marked": m.group(0), "after": quote[m.end() :]}
    return {"before": quote, "marked": None, "after": ""}


def _html_quote(c: dict, cite: list[str]) -> dict:
    """A cited span: where it is, and its quote cut around the expected ``cite`` text (``_highlight``)."""
    return {"n": c["n"], "source": c["source"], "start": c["start"], "end": c["end"], **_highlight(c["quote"], cite)}


def _html_meta_rows(meta: dict) -> list[tuple[str, str]]:
    git = meta["git"]
    rev = (git.get("revision") or "unknown") + (" (uncommitted changes)" if git.get("dirty") else "")
    rows = [
        ("started", meta["started"]),
        ("duration", f"{meta['duration_s']:.1f} s"),
        ("model", meta["model"]),
        ("prompts sha256", meta["prompts"]["sha256"]),
        ("git revision", rev),
        ("retrieval k", meta["k"]),
        ("sets", "; ".join(f"{s['name']} ({s['selected']}/{s['questions']}, {s['path']})" for s in meta["sets"])),
        ("command", " ".join(meta["command"])),
    ]
    return [(label, str(value)) for label, value in rows]


def _html_metric_rows(blocks: list[tuple[str, dict]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every metric measured in some block: its label and, per block, (value, numerator/denominator)."""
    return [
        (LABELS[m], [(format_metric(m, b["metrics"][m]), format_fraction(b, m)) for _, b in blocks])
        for m in METRICS
        if any(b["metrics"][m] is not None for _, b in blocks)
    ]


def _html_options(r: dict) -> dict | None:
    """A QuAIL question's options: the gold one and the one the answer picked flagged."""
    quail = r.get("quail")
    if not quail:
        return None
    options = [
        {"text": option, "gold": i == quail["gold"], "chosen": i == quail["chosen"]}
        for i, option in enumerate(r["expected"]["options"])
    ]
    return {"type": str(quail["type"]), "options": options}


def _html_sentences(r: dict) -> list[dict]:
    """Each answer sentence with its own markers and whether its quotes support it."""
    return [
        {
            "mark": "✓" if s["supported"] else "✗",
            "text": s["text"],
            "cites": "".join(f"[{n}]" for n in s["citations"]),
            "lacks": f" — lacks {', '.join(s['unsupported_words'])}" if s["unsupported_words"] else "",
        }
        for s in r.get("sentence_support") or []
    ]


def _html_expected(r: dict) -> str:
    exp = r["expected"]
    details = [f"expected: {'abstain' if r['expect_abstain'] else 'answer'}"]
    details += [f"{k}: {exp[k]}" for k in ("must_include", "cite", "reference") if exp[k]]
    if exp["answers"]:
        details.append(f"gold: {' | '.join(exp['answers'])}")
    if exp.get("supported"):
        details.append("every sentence supported by its citations")
    return "; ".join(details)


def _html_question(r: dict) -> dict:
    """One row of the questions table, as the template shows it."""
    why = r["why"]
    if r["status"] in ("XFAIL", "XPASS"):
        why = f"known failure: {r['known_failure']}. {why}"
    wrote = r["raw"].strip().rstrip(".")
    total = r["timings"].get("total_s")
    return {
        "status": r["status"],
        "id": r["id"],
        "tags": r["tags"],
        "history": r["history"],
        "question": r["question"],
        "rewritten": r["standalone"] if r["standalone"] and r["standalone"] != r["question"] else "",
        "details": _html_expected(r),
        "quail": _html_options(r),
        "answer": r["answer"],
        "raw": r["raw"] if wrote and wrote != r["prediction"] else "",
        "sentences": _html_sentences(r),
        "quotes": [_html_quote(c, r["expected"]["cite"]) for c in r["citations"]],
        "why": why,
        "reasons": "; ".join(r["reasons"]),
        "retrieval": None if r["retrieval_hit"] is None else ("yes" if r["retrieval_hit"] else "no"),
        "time": "" if total is None else f"{total:.2f}s",
    }


def write_html(run: dict, path: Path) -> None:
    """A self-contained page: run metadata, metrics per set, baseline comparison, every question."""
    meta, summary = run["meta"], run["summary"]
    blocks = [("all", summary["all"])] + (list(summary["sets"].items()) if len(summary["sets"]) > 1 else [])
    page = _template().render(
        meta=meta,
        set_names=", ".join(s["name"] for s in meta["sets"]),
        meta_rows=_html_meta_rows(meta),
        settings_json=json.dumps(meta["settings"], indent=2),
        block_names=[name for name, _ in blocks],
        count_rows=[(key, [b["counts"][key] for _, b in blocks]) for key in _COUNT_ROWS],
        metric_rows=_html_metric_rows(blocks),
        thresholds=run.get("thresholds") or [],
        comparison=run.get("comparison"),
        questions=[_html_question(r) for r in run["results"]],
    )
    path.write_text(page, encoding="utf-8")


def write_reports(run: dict, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "junit": out / "junit.xml", "html": out / "report.html"}
    write_json(run, paths["json"])
    write_junit(run, paths["junit"])
    write_html(run, paths["html"])
    return paths
