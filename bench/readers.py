"""Many readers: throughput of 1 vs 2 chat-page processes sharing one Chroma server and one model server.

    python -m bench.readers [--questions 8] [--out reports/readers.json]

Starts, on 127.0.0.1: ``chroma run``, ``python -m llama_cpp.server`` with the embedded GGUF, and one or two
``assistant ui`` processes configured with ASSISTANT_CHROMA_URL / ASSISTANT_LLM_URL (the README's "Scaling out"
set-up). The same questions are sent by 4 concurrent clients spread over the pages (gradio_client, ``/ask``), and
answers per minute are compared. The pages hold no shared state; the model server answers one request at a
time, so throughput should follow the model server's capacity, not the number of pages.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.llm import ensure_model  # noqa: E402
from tests.servers import Process, chroma_server, llama_server, page_ready, reader_page  # noqa: E402

QUESTIONS = [
    line.strip()
    for line in (ROOT / "bench" / "questions.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


def run(pages: list[Process], questions: list[str], clients: int = 4) -> dict:
    from gradio_client import Client

    def ask(i: int) -> float:
        client = Client(pages[i % len(pages)].url, verbose=False, download_files=False)
        t = time.perf_counter()
        out = client.predict(questions[i], True, "", api_name="/ask")
        assert out.get("error") is None, out
        return time.perf_counter() - t

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(ask, range(len(questions))))
    wall = time.perf_counter() - t0
    return {
        "pages": len(pages),
        "answers": len(questions),
        "wall_s": round(wall, 1),
        "answers_per_min": round(60 * len(questions) / wall, 1),
        "latency_median_s": round(statistics.median(latencies), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=8)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "readers.json")
    args = ap.parse_args()
    questions = (QUESTIONS * 4)[: args.questions]
    rows = []
    with tempfile.TemporaryDirectory(prefix="readers-") as tmp:
        tmp = Path(tmp)
        chroma = chroma_server(tmp / "chroma", tmp / "chroma.log")
        model = llama_server(ensure_model(Settings.from_env()), tmp / "llama.log")
        pages: list[Process] = []
        try:
            for n in (1, 2):
                while len(pages) < n:
                    (tmp / f"page-{len(pages)}").mkdir()
                    pages.append(page_ready(reader_page(tmp / f"page-{len(pages)}", ROOT, chroma, model, "readers")))
                run(pages, questions[:2])  # warm: the model server reads the article prefix once
                rows.append(run(pages, questions))
                print(json.dumps(rows[-1]), flush=True)
        finally:
            for p in [*pages, model, chroma]:
                p.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print("\n| chat pages | answers | wall s | answers/min | median latency s |\n|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['pages']} | {r['answers']} | {r['wall_s']} | {r['answers_per_min']} | {r['latency_median_s']} |")


if __name__ == "__main__":
    main()
