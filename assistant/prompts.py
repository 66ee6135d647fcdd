"""The prompts in ``prompts/`` and the LangChain chains built from them.

Every chain starts with the same system message (instructions + article), so llama.cpp evaluates that prefix
once and reuses it for each request; only the question, and the instruction for its kind, are new.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from .kinds import SPECS, Kind
from .schema import InputError

# "Summarize the part about …": a summary of a part of the article gets its own instruction.
_PART = re.compile(
    r"\b(part|paragraph|section|bit|passage|end|ending|wrap|conclusion|conclude|beginning|start)\b", re.I
)


def load_prompt(folder: Path, name: str) -> str:
    path = folder / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Prompt file {path} is missing.") from exc


def load_kind_prompts(folder: Path) -> dict[str, str]:
    """``prompts/kinds.yaml``: the instruction for each kind of question, and the decline option."""
    path = folder / "kinds.yaml"
    try:
        data = yaml.safe_load(load_prompt(folder, "kinds.yaml"))
    except yaml.YAMLError as exc:
        raise InputError(f"Prompt file {path} is not valid YAML: {exc}") from exc
    missing = [k for k in (*SPECS, "summary_part", "decline") if not isinstance((data or {}).get(k), str)]
    if missing:
        raise InputError(f"Prompt file {path} lacks an instruction for: {', '.join(missing)}.")
    return data


@dataclass(frozen=True)
class Prompts:
    """The prompt files, read once: ``system.md`` (with the article), ``answer.md`` (the question, then its
    instruction) or ``answer_first.md`` (the instruction first), ``condense.md``, ``sentence.md``, ``evidence.md``
    (the sentences a question is answered from, shown between it and its instruction) and the per-kind
    instructions of ``kinds.yaml``."""

    system: str
    answer: str
    answer_first: str
    condense: str
    sentence: str
    evidence_block: str
    kinds: dict[str, str]

    @classmethod
    def load(cls, folder: Path) -> Prompts:
        read = lambda name: load_prompt(folder, name)  # noqa: E731
        _langchain()
        return cls(read("system.md"), read("answer.md"), read("answer_first.md"), read("condense.md"),
                   read("sentence.md"), read("evidence.md"), load_kind_prompts(folder))  # fmt: skip

    def instruction(self, kind: Kind, question: str = "") -> str:
        """The kind's instruction; only fact questions are offered the decline (``NOT IN ARTICLE``)."""
        name = "summary_part" if kind.name == "summary" and _PART.search(question) else kind.name
        text = self.kinds[name].strip()
        return f"{text} {self.kinds['decline'].strip()}" if kind.may_decline else text

    def evidence(self, sentences: list[str]) -> str:
        """The ``{evidence}`` of ``answer.md``: the given article sentences as a list, or nothing."""
        return self.evidence_block.format(sentences="\n".join(f"- {s}" for s in sentences)) if sentences else ""

    def turn(self, first: bool = False) -> str:
        """The question's turn: ``answer.md`` (question, then instruction) or, ``first``, ``answer_first.md``."""
        return self.answer_first if first else self.answer

    def head(self, instruction: str) -> str:
        """``answer_first.md`` up to the question ("<instruction>\n\nQuestion:"): the same for every question of
        a kind, so llama.cpp keeps it evaluated with the article (``llm.warm_prefix``)."""
        template = self.answer_first
        before = template[: template.index("{question}")] if "{question}" in template else ""
        return before.format(instruction=instruction).rstrip(" ")

    def heads(self, kinds: list[str]) -> list[str]:
        """The head of every instruction a question of ``kinds`` can get (a summary: the whole, or a part)."""
        every = [self.instruction(SPECS[k]) for k in kinds]
        every += [self.instruction(SPECS["summary"], "that part")] if "summary" in kinds else []
        return [self.head(text) for text in dict.fromkeys(every)]

    def answer_chain(
        self, chat, max_tokens: int | None = None, keep: str | None = None, first: bool = False, head: str | None = None
    ):
        """LCEL: prompt | model | text. ``invoke``, ``stream`` and ``batch`` all work on it.

        ``keep``: the local model keeps its state after this call under that key, for ``restate_chain``.
        ``first``: the instruction before the question (``turn``); ``head``: its fixed start (``head``), which the
        local model then starts from, evaluated once with the article."""
        prompt = _template([("system", self.system), ("human", self.turn(first))])
        return prompt | _bound(chat, max_tokens=max_tokens, keep=keep, head=head) | _text()

    def condense_chain(self, chat):
        prompt = _template([("system", self.system), ("human", self.condense)])
        return prompt | chat | _text()

    def restate_chain(self, chat, max_tokens: int, resume: str | None = None, first: bool = False):
        """The answer turn, the model's phrase, then "say it as one sentence" (``sentence.md``).

        ``resume``: the key the answer turn was kept under; the local model then reads only the new turn."""
        prompt = _template(
            [("system", self.system), ("human", self.turn(first)), ("ai", "{reply}"), ("human", self.sentence)]
        )
        return prompt | _bound(chat, max_tokens=max_tokens, resume=resume) | _text()


# LangChain is imported by ``Prompts.load``, not with this module: the Assistant starts loading the model
# (``llm.preload``) before it loads the prompts, so the import (~0.7 s, most of it langsmith's tracing) then runs
# while the model loads instead of before.
@cache
def _langchain():
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    return ChatPromptTemplate, StrOutputParser


def _template(messages: list[tuple[str, str]]):
    return _langchain()[0].from_messages(messages)


def _text():
    return _langchain()[1]()


def _bound(chat, max_tokens: int | None = None, **state):
    """The chat model with its length, and the state keys only for a model that takes them (the local one)."""
    binds = {"max_tokens": max_tokens} if max_tokens else {}
    if getattr(chat, "resumable", False):
        binds.update({k: v for k, v in state.items() if v is not None})
    return chat.bind(**binds) if binds else chat
