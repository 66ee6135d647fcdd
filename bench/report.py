"""The report: figures and ratios from the measurements, the targets beside them, the table and the plot."""

from __future__ import annotations

from pathlib import Path

from .common import GiB, ratio, self_rss, summary
from .crowd import summary_lines
from .warm import variant_summary

SOMETIMES_UNMEASURED = {"project_first_words_median_s", "project_three_sentence_total_median_s"}
# (key in the report, label, comparison, limit)
# (key in the report, label, comparison, limit): issue #15's where it set one, else the earlier issues'
TARGETS = [
    ("ratio_project_vs_raw", "(a)/(c) median total time", "<=", 1.3),
    ("ratio_project_vs_langchain", "(a)/(b) median total time", "<=", 0.3),
    ("project_first_token_median_s", "(a) first words (first token), median [s]", "<=", 0.8),
    ("project_total_median_s", "(a) total answer time, median [s]", "<=", 2.0),
    ("project_first_words_median_s", "(a) first checked sentence shown, median [s]", "<=", 1.0),
    ("project_three_sentence_total_median_s", "(a) answers of 3+ sentences, total, median [s]", "<=", 4.0),
    ("restart_first_answer_s", "restart -> first answer, saved state [s]", "<=", 3.0),
    ("peak_rss_gib", "peak RSS of an answering process [GiB]", "<=", 2.5),
]


def build_report(questions: list[str], quick: bool, cold: dict, warm: dict, meta: dict, crowd: dict) -> dict:
    pq = warm["per_question"]
    answers = {v: variant_summary([r[v] for r in pq]) for v in ("project", "langchain", "raw")}
    med = {v: answers[v]["total_s"]["median"] for v in answers}
    breakdown = {}
    rows = [r["project"] for r in pq]
    if rows:
        n = len(rows)
        breakdown = {
            "retrieve_s": sum(r["retrieve_s"] or 0 for r in rows) / n,
            "prompt_eval_s": sum(r["prompt_s"] for r in rows) / n,
            "generation_s": sum(r["gen_s"] for r in rows) / n,
        }
        breakdown["other_s"] = sum(r["total_s"] for r in rows) / n - sum(breakdown.values())
    with_state = cold.get("with_saved_state") or {}
    rss = {
        "bench_process_bytes": self_rss(),
        "cold_with_state_bytes": with_state.get("peak_rss_bytes"),
        "cold_without_state_bytes": (cold.get("without_saved_state") or {}).get("peak_rss_bytes"),
        "ui_page_ready_bytes": (cold.get("ui") or {}).get("peak_rss_bytes"),
    }
    answering = [v for k, v in rss.items() if k.startswith("cold_") and v]
    measured = {
        "ratio_project_vs_raw": ratio(med["project"], med["raw"]),
        "ratio_project_vs_langchain": ratio(med["project"], med["langchain"]),
        "project_first_token_median_s": answers["project"]["first_token_s"]["median"],
        "project_first_words_median_s": summary(
            [r.get("first_words_s") for r in rows]
        )["median"],
        "project_three_sentence_total_median_s": summary(
            [r["total_s"] for r in rows if r.get("sentences", 0) >= 3]
        )["median"],
        "project_total_median_s": med["project"],
        "restart_first_answer_s": with_state.get("first_answer_s"),
        "peak_rss_gib": max(answering) / GiB if answering else None,
    }
    targets, not_measured = [], []
    for key, label, op, limit in TARGETS:
        value = measured[key]
        if value is None and key in SOMETIMES_UNMEASURED:  # e.g. --quick wrote no answer of three sentences
            not_measured.append(key)
            continue
        ok = None if value is None else value <= limit
        targets.append({"key": key, "label": label, "target": f"{op} {limit}", "measured": value, "ok": ok})
    return {
        "meta": {**meta, "quick": quick, "questions": len(questions), "not_measured": not_measured},
        "cold_start": cold,
        "startup": warm["startup"],
        "retrieval": warm["retrieval"],
        "answer": answers,
        "project_time_breakdown_mean": breakdown,
        "ratios": {
            "project_vs_langchain_total": measured["ratio_project_vs_langchain"],
            "project_vs_raw_total": measured["ratio_project_vs_raw"],
            "project_vs_langchain_first_token": ratio(
                answers["project"]["first_token_s"]["median"], answers["langchain"]["first_token_s"]["median"]
            ),
            "project_vs_raw_first_token": ratio(
                answers["project"]["first_token_s"]["median"], answers["raw"]["first_token_s"]["median"]
            ),
        },
        "memory": rss,
        "targets": targets,
        "crowd": crowd,
        "per_question": pq,
    }


def fmt(v, unit: str = "s") -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, str):
        return v
    if unit == "GiB":
        return f"{v / GiB:.2f} GiB"
    if unit == "x":
        return f"{v:.2f}x"
    if unit == "":
        return f"{v:.1f}"
    return f"{v:.3f} s" if v < 1 else f"{v:.2f} s"


def table(report: dict) -> str:
    lines: list[str] = []

    def row(label, value, unit="s"):
        lines.append(f"  {label:<52} {fmt(value, unit):>14}")

    m = report["meta"]
    lines.append(
        f"Benchmark: {m['questions']} questions, quick={m['quick']}, {m['cpus']} CPUs, "
        f"n_threads={report['startup']['n_threads']}/{report['startup']['n_threads_batch']} (generate/prompt), "
        f"load average {m['loadavg_start']:.1f} -> {m['loadavg_end']:.1f}, engine {m['engine']}"
    )
    cold = report["cold_start"]
    lines.append("Cold start (fresh process; model file in the page cache)")
    for key, label in (("with_saved_state", "saved prompt state"), ("without_saved_state", "no saved state")):
        c = cold.get(key)
        if c:
            row(f"process start -> first answer, {label}", c["first_answer_s"])
            row(
                "   imports / Assistant / model / prefix / answer",
                " / ".join(f"{c[k]:.1f}" for k in ("imports_s", "assistant_s", "model_load_s", "prefix_s", "answer_s")),
                "",
            )
            row(f"   peak RSS (prefix {c['warm']})", c["peak_rss_bytes"], "GiB")
    if cold.get("ui"):
        row("process start -> chat page HTTP 200", cold["ui"]["page_ready_s"])
        row("   chat page peak RSS at that moment", cold["ui"]["peak_rss_bytes"], "GiB")
    s = report["startup"]
    lines.append("Start-up pieces (this process)")
    row("imports of the engine", s["imports_s"])
    row("embedding model load", s["embedding_model_load_s"])
    row("start-up with the existing index (Assistant())", s["existing_index_startup_s"])
    row(f"index build from scratch ({s['passages']} passages)", s["index_build_s"])
    row("model load (llama.cpp)", s["model_load_s"])
    row(f"prefix restore from state file ({s['prefix_tokens']} tokens)", s["prefix_restore_from_file_s"])
    r = report["retrieval"]
    lines.append("Retrieval (median / p95)")
    for key, label in (("hybrid_s", "hybrid (project)"), ("vector_only_s", "vector only (baseline retriever)")):
        row(label, f"{r[key]['median'] * 1e3:.1f} / {r[key]['p95'] * 1e3:.1f} ms")
    head = "first token med/p95   total med/p95   prompt tok  gen tok"
    lines.append(f"Answering, warm{'':<37}{head}")
    for v, label in (("project", "(a) project"), ("langchain", "(b) LangChain RAG"), ("raw", "(c) raw llama floor")):
        x = report["answer"][v]
        ft, tt = x["first_token_s"], x["total_s"]
        lines.append(
            f"  {label:<46} {ft['median']:7.2f} / {ft['p95']:5.2f} s   {tt['median']:5.2f} / {tt['p95']:5.2f} s"
            f"   {x['prompt_tokens_per_question']:5.0f} @{x['prompt_tokens_per_s']:4.0f}/s"
            f"  {x['gen_tokens_per_question']:4.1f} @{x['gen_tokens_per_s']:4.1f}/s"
        )
    pa = report["answer"]["project"]
    row("(a) questions abstained / retried with narrow context", f"{pa['abstained']} / {pa['retried']}")
    b = report["project_time_breakdown_mean"]
    if b:
        row(
            "(a) mean: retrieve / prompt eval / generate / other",
            " / ".join(f"{b[k]:.2f}" for k in ("retrieve_s", "prompt_eval_s", "generation_s", "other_s")) + " s",
        )
    ra = report["ratios"]
    row("ratio (a)/(b) first token", ra["project_vs_langchain_first_token"], "x")
    row("ratio (a)/(c) first token", ra["project_vs_raw_first_token"], "x")
    mem = report["memory"]
    row("peak RSS of this bench process (model, 2 indexes, plots)", mem["bench_process_bytes"], "GiB")
    lines.append("Under load")
    crowd = summary_lines(report["crowd"]) if report["crowd"] else ["not run (--no-crowd)"]
    lines.extend(f"  {line}" for line in crowd)
    lines.append(f"Targets{'':<46} {'measured':>14}   target   met")
    for t in report["targets"]:
        unit = "x" if t["key"].startswith("ratio") else ""
        value = fmt(t["measured"], unit) if unit else ("-" if t["measured"] is None else f"{t['measured']:.2f}")
        lines.append(f"  {t['label']:<52} {value:>14}   {t['target']:<7}  {fmt(t['ok'])}")
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pq = report["per_question"]
    xs = list(range(1, len(pq) + 1))
    fig, axes = plt.subplots(2, 1, figsize=(max(6, 0.45 * len(pq) + 3), 7), sharex=True)
    styles = (("project", "(a) project", "o"), ("langchain", "(b) LangChain RAG", "s"), ("raw", "(c) raw llama", "^"))
    for ax, key, title in ((axes[0], "total_s", "total answer time"), (axes[1], "first_token_s", "first token")):
        for v, label, marker in styles:
            ys = [r[v][key] if r[v] else None for r in pq]
            ax.plot(xs, [y if y is not None else float("nan") for y in ys], marker=marker, label=label)
        ax.set_ylabel("seconds")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].axhline(2.0, color="grey", ls="--", lw=0.8, label="target (a) 2 s")
    axes[1].axhline(1.0, color="grey", ls="--", lw=0.8, label="target (a) 1 s")
    axes[0].legend(fontsize=8)
    axes[1].set_xlabel("question (bench/questions.txt order)")
    axes[1].set_xticks(xs)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
