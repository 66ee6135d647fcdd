"""The typo matcher, measured: the old difflib scan of the vocabulary against rapidfuzz (what ``text.Vocabulary``
uses), on every fuzzy lookup that the question sets, SQuAD dev and QuAIL blogs make for the words of their
questions, options and answers (5+ letters, not in the text as such or by stem). Prints the time per lookup and
the decisions that differ.

    python -m bench.fuzzy
"""

from __future__ import annotations

import json
import time
from difflib import SequenceMatcher
from pathlib import Path

import yaml

from assistant.text import NUMBER_WORDS, Vocabulary, normalize, stem, words

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "eval"


def difflib_scan(v: Vocabulary, w: str) -> bool:
    """What ``Vocabulary.has`` did before: every word of about the same length, difflib ratio >= 0.84."""
    return any(abs(len(x) - len(w)) <= 2 and SequenceMatcher(None, x, w).ratio() >= 0.84 for x in v.words)


def lookups() -> list[tuple[Vocabulary, str]]:
    article = Vocabulary("\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))))
    pairs = [(article, [q["question"] for f in (ROOT / "tests" / "questions").glob("*.yaml")
                        for q in yaml.safe_load(f.read_text())["questions"]])]  # fmt: skip
    for path in (SHARED / "squad2_dev_600w.jsonl", SHARED / "quail_blogs_dev.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            texts = [qa["question"] for qa in rec["qas"]] + [o for qa in rec["qas"] for o in qa.get("options", [])]
            texts += [a["text"] if isinstance(a, dict) else str(a) for qa in rec["qas"] for a in qa.get("answers", [])]
            pairs.append((Vocabulary(rec["context"]), texts))
    out = []
    for v, texts in pairs:
        for w in (normalize(w) for t in texts for w in words(t)):
            exact = w in v.words or stem(w) in v.stems or w.isdigit() or w in NUMBER_WORDS
            if len(w) >= 5 and not exact:
                out.append((v, w))
    return out


def main() -> None:
    calls = lookups()
    results = {}
    for name, fn in (("difflib scan", difflib_scan), ("rapidfuzz (Vocabulary.has)", lambda v, w: v.has(w))):
        t = time.perf_counter()
        results[name] = [fn(v, w) for v, w in calls]
        dt = time.perf_counter() - t
        print(f"{name}: {sum(results[name])} of {len(calls)} matched, {1e3 * dt / len(calls):.3f} ms per lookup")
    old, new = results.values()
    differ = [w for (_, w), a, b in zip(calls, old, new, strict=True) if a != b]
    print(f"decisions that differ: {len(differ)} {differ[:20]}")


if __name__ == "__main__":
    main()
