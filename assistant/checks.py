"""The signals that decide whether to answer: each a named check with its reason text, in one list.

The model only writes; whether its reply is shown is decided here. The signals *before* the model look at the
question (is it an injection, are its names and terms in the sources, is it one of the article's own open
questions); the signals *after* look at the grounded sentences. Any failed signal means an abstention, and
its reason is what the chat page's "Why:" line shows. ``SIGNALS`` is the one list the pipeline, the ablation
table (``assistant eval --ablation``) and the README's table come from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .grounding import DECLINE, ECHO, Claim, mentioned, relevance
from .kinds import Kind
from .text import Vocabulary, content_words, entities, numbers


@dataclass(frozen=True)
class Signal:
    """One reason to abstain: when it is checked, its rule, and what it catches (for the README's table)."""

    name: str
    stage: str  # "question" (before the model) or "answer" (after it)
    label: str
    rule: str
    catches: str


SIGNALS: tuple[Signal, ...] = (
    Signal("injection", "question", "instructions in the question",
           "a pattern list (ignore/disregard instructions, reveal the prompt or rules, a fake \"SYSTEM:\" turn, "
           "role-play, \"you are now\", outside knowledge …)", "prompt injection"),
    Signal("unknown_names", "question", "names and numbers of the question",
           "every capitalised name (at least half its words), every numeral and the thing a \"what is the …\" "
           "asks about must occur in the sources",
           "\"Who won the 2022 FIFA World Cup?\", \"What is the capital of Azerbaijan?\""),
    Signal("open_question", "question", "an open question of the article",
           "the question asks again one of the article's own questions about what will or could happen (word "
           "overlap ≥ 50 % both ways): the reply is \"The article raises this question but does not answer it "
           "[n].\"", "\"Will this partnership become a long-term alliance?\""),
    Signal("model_declined", "answer", "the model declines",
           "(fact questions) the reply is `NOT IN ARTICLE` or says \"not mentioned\" etc.; then one retry over "
           "the two best-ranked passages only (`ASSISTANT_RETRY_K`)", "—"),
    Signal("echo", "answer", "the reply only repeats the question",
           "every sentence written restates the question without adding anything the article says",
           "a reply that restates the question and adds nothing"),
    Signal("answer_grounded", "answer", "every sentence grounded",
           "per sentence: numbers and names in its cited sentences, more than half of its words there, few words "
           "the article never uses; a failing sentence is dropped. No sentence left: decline",
           "invented \"$1 billion\", \"Recep Tayyip Erdogan\", paraphrased inventions"),
    Signal("answer_type", "answer", "the kind of answer",
           "\"how much / how many\" needs a number, \"when\" a time, \"how old\" an age stated in the cited "
           "sentences", "\"How much aid?\" → \"Azerbaijan sent aid\"; \"How old is he?\" → a 12-year closure"),
    Signal("on_topic", "answer", "yes/no evidence on topic",
           "the sentences cited for a yes/no answer hold at least 40 % of the question's words",
           "a yes or no drawn from evidence about something else"),
    Signal("right_passage", "answer", "right paragraph",
           "the names of the question must occur in the paragraph(s) of the cited sentences",
           "\"Who is the president of Turkey?\" → \"Ilham Aliyev\""),
    Signal("verified", "answer", "verification (off unless `ASSISTANT_VERIFY=1`)",
           "the model, asked again over the cited sentences alone, must not reply `NOT IN ARTICLE`; the first "
           "answer is kept either way",
           "a name in the wrong role (\"Who is the prime minister?\" → the *Deputy* Prime Minister)"),
)  # fmt: skip
NAMES = tuple(s.name for s in SIGNALS)
BEFORE = tuple(s.name for s in SIGNALS if s.stage == "question")
AFTER = tuple(s.name for s in SIGNALS if s.stage == "answer")
RETRYABLE = ("model_declined", "echo")  # a miss the narrower retry may fix

INJECTED = "the question asks to change the assistant's instructions"
NO_ANSWER = "the model found no answer in the article"
OPEN = "the article raises this question itself and leaves it open"
UNVERIFIED = "the model finds no answer in the cited sentences alone"
MIN_RELEVANCE = 0.4  # share of a yes/no question's words its cited evidence must hold

INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules|prompt|above|previous|context|article)\b"
    r"|\b(system|hidden|initial) prompt\b|\breveal\b.{0,30}\b(prompt|instructions?|rules|guidelines)\b"
    r"|(^|[\n.?!])\s*(system|assistant|developer|admin)\s*:|\byou are now\b|\bact as\b"
    r"|\bpretend (to be|you)\b|\brole[- ]?play\b|\bjailbreak\b|\bDAN\b|\bdeveloper mode\b"
    r"|\b(outside|general|your own|prior) knowledge\b|\bfrom now on\b",
    re.IGNORECASE,
)
_NUMERAL = re.compile(r"\d+(?:[.,]\d+)*")
# Words that ask about the text itself, not about its content: not looked for in the sources.
META_WORDS = set(
    """summarize summarise summary summaries gist main point points key takeaway takeaways overview recap tl dr
    tldr brief briefly nutshell list name names named people person persons countries country places items
    mentioned mentions piece story post explain headline title heading paragraph paragraphs para article text""".split()
)
_HEAD = re.compile(r"^\s*(?:what|who|which)(?:'s|\s+is|\s+are|\s+was|\s+were)\s+the\s+([a-z]{3,})\b", re.IGNORECASE)
# A question that asks for an amount or a time must get one ("How much aid?" is not answered by "aid").
_WANTS_NUMBER = re.compile(r"^\s*how (many|much|long|old|far|big|large)\b|\bwhat (percentage|number|amount)\b",
                           re.IGNORECASE)
_WANTS_TIME = re.compile(r"^\s*when\b|\bwhat (year|date|day|month|time)\b|\bin which year\b", re.IGNORECASE)
_TIME_WORDS = re.compile(
    r"\b(ago|recently|years?|months?|weeks?|days?|since|after|before|during|until|today|now|soon|earlier|later"
    r"|january|february|march|april|may|june|july|august|september|october|november|december|\d{4})\b",
    re.IGNORECASE,
)
# An age must be stated as one: a duration in the evidence ("after a 12-year closure") is not how old anyone is.
_WANTS_AGE = re.compile(r"^\s*how old\b|\b(at )?what age\b", re.IGNORECASE)
_AGE = re.compile(
    r"\b(years?|yrs?)[- ]old\b|\bold (man|woman|boy|girl)\b|\baged?\b|\bborn\b|\bbirthday\b|\bteen(s|age|ager)?\b"
    r"|\b(twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties)\b",
    re.IGNORECASE,
)


def table() -> str:
    """The README's table of signals, from ``SIGNALS`` (a test keeps the README in step with it)."""
    rows = ["| signal | rule | catches |", "|---|---|---|"]
    rows += [f"| {s.label} (`{s.name}`) | {s.rule} | {s.catches} |" for s in SIGNALS]
    return "\n".join(rows)


def first_failed(signals: dict, names: Iterable[str], disabled: Iterable[str] = ()) -> str | None:
    """The reason of the first failed signal among ``names`` that is not switched off, or None."""
    off = set(disabled)
    return next((signals[n] for n in names if signals.get(n) and n not in off), None)


# -- before the model ----------------------------------------------------------------------------------------
def injection(question: str) -> str | None:
    return INJECTED if INJECTION.search(question) else None


def unknown_names(question: str, vocab: Vocabulary) -> str | None:
    """Names, numerals and the thing a "what is the …" asks about that the sources never mention."""
    missing = [" ".join(e) for e in entities(question) if not vocab.mentions(e)]
    missing += [n for n in _NUMERAL.findall(question) if n.replace(",", "") not in vocab.numbers]
    head = _HEAD.search(question)  # "What is the capital of ...?": the thing asked about must be in the text
    if head and head.group(1).lower() not in META_WORDS and not mentioned(vocab, head.group(1)):
        missing.append(head.group(1))
    return f"the sources never mention {', '.join(dict.fromkeys(missing))}" if missing else None


def term_coverage(question: str, vocab: Vocabulary, kind: Kind) -> float:
    """The share of the question's content words that occur in the sources (1.0 for a summary: it asks of the
    text itself). Words about the text ("list the people named") are not counted."""
    terms = [w for w in content_words(question) if w not in META_WORDS]
    return vocab.coverage(terms) if terms and kind.name != "summary" else 1.0


def question_signals(question: str, vocab: Vocabulary, kind: Kind) -> dict:
    """The signals about the question itself, and its term coverage (a number, recorded for the ablation's curve;
    it no longer declines a question: a reader's own wording, "the key figures in this story", is not a sign that
    the article is silent)."""
    coverage = term_coverage(question, vocab, kind)
    return {"unknown_names": unknown_names(question, vocab), "coverage": round(coverage, 4)}


# -- after the model -----------------------------------------------------------------------------------------
def wrong_type(question: str, answer: str, evidence: str = "") -> str | None:
    """Why the answer is not the kind of thing asked for: an amount without a number, a time without a time, an
    age that its cited sentences do not state as an age."""
    if _WANTS_NUMBER.search(question) and not numbers(answer):
        return "the question asks for an amount and the answer gives none"
    if _WANTS_AGE.search(question) and not _AGE.search(evidence):
        return "the question asks how old and the cited sentences state no age"
    if _WANTS_TIME.search(question) and not _TIME_WORDS.search(answer):
        return "the question asks when and the answer gives no time"
    return None


def wrong_passage(question: str, kept: list[Claim]) -> str | None:
    """The question's names must be in the paragraph(s) the cited sentences come from."""
    where = Vocabulary(" ".join({s.passage.text for c in kept for s in c.support}))
    absent = [" ".join(e) for e in entities(question) if not where.mentions(e)]
    return f"the supporting passage does not mention {', '.join(absent)}" if absent else None


def answer_signals(question: str, kind: Kind, raw: str, claims: list[Claim]) -> dict:
    """The signals about the answer, from its grounded sentences (and the yes/no evidence's relevance)."""
    out: dict = dict.fromkeys(AFTER)
    kept = [c for c in claims if c.kept]
    if not kept and (not raw.strip() or DECLINE.search(raw)):
        out["model_declined"] = NO_ANSWER
    elif not kept and claims and all(c.reason == ECHO for c in claims):
        out["echo"] = ECHO
    elif not kept:
        out["answer_grounded"] = claims[0].reason if claims else "the reply is empty"
    else:
        evidence = " ".join(dict.fromkeys(s.text for c in kept for s in c.support))
        out["answer_type"] = wrong_type(question, " ".join(c.text for c in kept), evidence)
        share = relevance(question, [s for c in kept for s in c.support])
        out["relevance"] = round(share, 4)  # a number, kept for threshold curves
        off_topic = kind.name == "yesno" and share < MIN_RELEVANCE
        out["on_topic"] = f"the cited sentences hold only {share:.0%} of the question's words" if off_topic else None
        out["right_passage"] = wrong_passage(question, kept)
    return out
