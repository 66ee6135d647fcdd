"""Scale figures: index build time, store size and retrieval latency for 1, 10, 100 and 1,000 articles,
embedded Chroma (``index/``) side by side with a Chroma server (``chroma run`` on loopback).

    python -m bench.scale                      # 1, 10, 100, 1000 articles
    python -m bench.scale --sizes 1,10 --out reports/scale.json

The corpora: article 1 is the seed article; articles 2-11 are the ten SQuAD texts in ../shared/eval; every
further article is made from those eleven texts' sentences, drawn with a seeded random generator (about 25
sentences in 4 paragraphs, ~600 words, like the real ones). So larger corpora have realistic passages and
vocabulary, though they repeat sentences. Retrieval is timed with questions from the SQuAD file, hybrid
(Chroma + BM25) as the assistant does it. Building includes embedding on this machine's CPUs.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.documents import load_documents  # noqa: E402
from assistant.embeddings import get_embeddings  # noqa: E402
from assistant.index import build_or_load  # noqa: E402
from assistant.retrieval import HybridRetriever  # noqa: E402
from tests.servers import chroma_server  # noqa: E402

SQUAD = ROOT.parent / "shared" / "eval" / "squad2_dev_600w.jsonl"
SEED = ROOT / "seeds" / "azerbaijan-syria.txt"


def base_texts() -> tuple[list[str], list[str]]:
    records = [json.loads(line) for line in SQUAD.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [SEED.read_text(encoding="utf-8")] + [r["context"] for r in records]
    questions = [qa["question"] for r in records for qa in r["qas"]]
    return texts, questions


def make_corpus(folder: Path, n: int, texts: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sentences = [s for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if len(s.split()) > 3]
    for i in range(n):
        if i < len(texts):
            body = texts[i]
        else:
            rng = random.Random(i)
            picked = rng.sample(sentences, 24)
            body = "\n\n".join(" ".join(picked[j : j + 6]) for j in range(0, 24, 6))
        (folder / f"article-{i + 1:05d}.txt").write_text(body + "\n", encoding="utf-8")


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def time_retrieval(index, questions: list[str], k: int = 4) -> dict:
    r = HybridRetriever(index, k=k)
    r.retrieve(questions[0])  # warm
    times = []
    for q in questions:
        t = time.perf_counter()
        r.retrieve(q)
        times.append(time.perf_counter() - t)
    times.sort()
    return {"median_ms": 1000 * statistics.median(times), "p95_ms": 1000 * times[int(0.95 * (len(times) - 1))]}


def measure(root: Path, n: int, texts, questions, chroma_url: str | None) -> dict:
    corpus = root / f"corpus-{n}"
    if not corpus.exists():
        make_corpus(corpus / "seeds", n, texts)
    mode = "server" if chroma_url else "embedded"
    index_dir = root / f"index-{n}-{mode}"
    s = Settings.from_env(root=corpus, index_dir=index_dir, chroma_url=chroma_url, collection=f"scale-{n}")
    docs = load_documents(s.seeds, s.root)
    t = time.perf_counter()
    index = build_or_load(docs, s, force=True)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    reopened = build_or_load(docs, s)  # a restart: nothing to embed
    reopen_s = time.perf_counter() - t
    extra = s.seeds / "article-extra.txt"
    extra.write_text(texts[1][::-1].capitalize() + "\n", encoding="utf-8")  # one new article
    t = time.perf_counter()
    updated = build_or_load(load_documents(s.seeds, s.root), s)
    add_one_s = time.perf_counter() - t
    extra.unlink()
    build_or_load(docs, s)
    row = {
        "articles": n,
        "store": mode,
        "passages": len(index.passages),
        "build_s": round(build_s, 2),
        "reopen_s": round(reopen_s, 2),
        "add_one_article_s": round(add_one_s, 2),
        "added_passages": updated.changes.get("added"),
        "store_mb": round(folder_size(index_dir) / 2**20, 1) if not chroma_url else None,
        **{k: round(v, 2) for k, v in time_retrieval(reopened, questions).items()},
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,10,100,1000")
    ap.add_argument("--questions", type=int, default=50, help="Retrieval queries timed per size.")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "scale.json")
    args = ap.parse_args()
    texts, questions = base_texts()
    questions = questions[: args.questions]
    get_embeddings()  # load once, untimed
    rows = []
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        root = Path(tmp)
        server = chroma_server(root / "chroma-data", root / "chroma.log")
        try:
            for n in [int(x) for x in args.sizes.split(",")]:
                rows.append(measure(root, n, texts, questions, None))
                rows.append(measure(root, n, texts, questions, server.url))
            server_mb = folder_size(root / "chroma-data") / 2**20
        finally:
            server.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "server_data_mb_all_sizes": round(server_mb, 1)}, indent=2))
    print()
    print("| articles | passages | store | build s | restart s | +1 article s | size MB | retrieve ms | p95 ms |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        size = "" if r["store_mb"] is None else r["store_mb"]
        print(
            f"| {r['articles']} | {r['passages']} | {r['store']} | {r['build_s']} | {r['reopen_s']} | "
            f"{r['add_one_article_s']} | {size} | {r['median_ms']} | {r['p95_ms']} |"
        )
    print(f"\nChroma server data folder after all sizes: {server_mb:.1f} MB")


if __name__ == "__main__":
    main()
