"""Grade an earlier engine with today's loaders and judging, on the same questions (the "before" of docs/quality.md).

The earlier ``assistant/`` package is imported as ``assistant_old``; its phrase answer counts as one sentence
carrying all its markers, so that it can pass ``supported`` too.

    git worktree add /tmp/before 206895e
    mkdir -p /tmp/oldpkg && cp -r /tmp/before/assistant /tmp/oldpkg/assistant_old
    PYTHONPATH=/tmp/oldpkg:. .venv/bin/python scripts/before_eval.py SET OUT.json [--sample N] [--root /tmp/before]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

from assistant.judging import judge
from assistant.metrics import summarize
from assistant.questionsets import load_question_set
from assistant.schema import Answer, AnswerSentence


def as_today(old) -> Answer | None:
    """The earlier ``Answer`` in today's schema; a phrase answer becomes one sentence with all its markers."""
    if old is None:
        return None
    data = old.model_dump()
    new = Answer(**{k: v for k, v in data.items() if k in Answer.model_fields})
    if not new.abstained and not new.sentences:
        new.sentences = [AnswerSentence(text=new.text, citations=[int(m) for m in re.findall(r"\[(\d+)\]", new.text)])]
    return new


def main() -> None:
    from assistant_old.answering import Assistant as Old
    from assistant_old.config import Settings as OldSettings

    p = argparse.ArgumentParser()
    p.add_argument("set")
    p.add_argument("out")
    p.add_argument("--sample", type=int)
    p.add_argument("--root", type=Path, default=Path("/tmp/before"))
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="before-"))
    qset = load_question_set(args.set)
    groups: dict[str | None, list] = {}
    for q in qset.select(None, None, args.sample):
        groups.setdefault(q.context, []).append(q)
    results = []
    for context, group in groups.items():
        if context is None:
            settings = OldSettings.from_env(root=args.root, index_dir=tmp / "index")
        else:  # SQuAD / QuAIL: the record's text is the only source, as in assistant.runner
            base = tmp / context
            (base / "seeds").mkdir(parents=True)
            (base / "seeds" / f"{context}.txt").write_text(qset.contexts[context] + "\n", encoding="utf-8")
            settings = OldSettings.from_env(root=base, seeds_dir=base / "seeds", index_dir=base / "index",
                                            prompts_dir=args.root / "prompts")  # fmt: skip
        old = Old(settings)
        for q in group:
            answer = decision = error = None
            try:
                for kind, value in old.stream(q.question, q.history or None):
                    decision = value if kind == "decision" else decision
                    answer = value if kind == "answer" else answer
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            results.append(judge(q, as_today(answer), decision, qset.name, error))
            print(q.id, results[-1]["passed"], (answer.text if answer else str(error))[:100], flush=True)
    Path(args.out).write_text(json.dumps({"results": results, "summary": summarize(results)}, indent=1, default=str))
    for label, group in (("to answer", [r for r in results if not r["expect_abstain"]]),
                         ("to decline", [r for r in results if r["expect_abstain"]])):  # fmt: skip
        print(f"{label}: {sum(r['passed'] for r in group)}/{len(group)} right")


if __name__ == "__main__":
    main()
