"""Question in, grounded answer out: the one ``answer()`` that the CLI, the chat page and the evaluation share.

The model proposes a short answer; whether to answer at all is decided from signals the system already
has (are the question's names and terms in the sources, did the model decline, does the answer's every
number and name occur in the sentences that support it). Any failed signal means an abstention.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from . import llm as llm_mod
from .citations import Sentence, make_citations, select_support, sentences_of, verify
from .config import Settings
from .documents import Passage, load_documents, read_text
from .index import build_or_load
from .retrieval import Hit, HybridRetriever
from .schema import Answer, InputError
from .text import STOPWORDS, Vocabulary, content_words, entities, stem, words

ABSTAIN_MARKERS = re.compile(
    r"not in (the )?article|does(n't| not) (say|state|mention|specify|provide)"
    r"|not (mentioned|specified|stated|provided)"
    r"|no information|cannot (be )?(determine|answer|find)|can't (determine|answer)|unknown|i don't know|not clear",
    re.IGNORECASE,
)
INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules|prompt|above|previous|context|article)\b"
    r"|\b(system|hidden|initial) prompt\b|\breveal\b.{0,30}\b(prompt|instructions?)\b|\byou are now\b|\bact as\b"
    r"|\bpretend (to be|you)\b|\brole[- ]?play\b|\bjailbreak\b|\bDAN\b|\bdeveloper mode\b"
    r"|\b(outside|general|your own|prior) knowledge\b|\bfrom now on\b",
    re.IGNORECASE,
)
NO_ANSWER = "the model found no answer in the article"
ECHO = "the answer only repeats the question"
# Every signal that can make the assistant abstain, in the order they are checked (README: "When it answers").
PRE_SIGNALS = ("injection", "unknown_names", "term_coverage")
POST_SIGNALS = ("model_declined", "echo", "answer_grounded", "right_passage", "verified")
SIGNALS = PRE_SIGNALS + POST_SIGNALS
RETRYABLE = ("model_declined", "echo")
_NUMERAL = re.compile(r"\d+(?:[.,]\d+)*")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


@dataclass
class Decision:
    """Why an answer was given or withheld; kept for evaluation and the UI."""

    standalone: str = ""
    reasons: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    raw: str = ""
    retried: bool = False
    verify_raw: str = ""  # the model's reply when asked again over the cited sentences alone
    signals: dict = field(default_factory=dict)  # signal name -> reason it failed, or None; plus "coverage"


def abstain_text(detail: str = "") -> str:
    return "The article does not say" + (f" {detail}" if detail else "") + "."


def reply_line(raw: str) -> str:
    """The model's reply as an answer: its first line, without an "Answer:" label or quotes."""
    short = raw.strip().splitlines()[0].strip() if raw.strip() else ""
    return re.sub(r"^(answer|a)\s*:\s*", "", short, flags=re.IGNORECASE).strip().strip('"“”').strip()


def declines(short: str) -> bool:
    return not short or bool(ABSTAIN_MARKERS.search(short))


def drop_restated(short: str, question: str) -> str:
    """Cut the part of an answer that restates the question ("Turkey opposes | Syria's Assad regime").

    Small models often answer in a sentence that begins with the question's own words, sometimes in a form
    the article never uses ("opposes" for "opponent"), which would fail the vocabulary check. The longest
    opening run of the question's words and stopwords is cut when what remains still has a content word.
    Not for choice questions ("Aliyev or Sharifov?"), where the question's words are the answer.
    """
    if re.search(r"\bor\b", question, re.IGNORECASE):
        return short
    asked = {stem(w) for w in content_words(question)}
    tokens = list(re.finditer(r"\S+", short))
    cut, echoed = 0, False
    for i, m in enumerate(tokens):
        ws = words(m.group(0))
        if not ws or not all(w in STOPWORDS or stem(w) in asked for w in ws):
            break
        echoed = echoed or any(w not in STOPWORDS for w in ws)
        cut = i + 1
    if not echoed or cut == len(tokens):
        return short
    rest = short[tokens[cut].start() :].strip(" ,;:—–-")
    return rest if content_words(rest) else short


REFERENCE = re.compile(
    r"\b(?P<there>there)\b|\b(?P<that>(?:that|this|these|those)\s+[^\W\d_]+)"
    r"|\b(?P<own>his|her|its|their)\b|\b(?P<it>he|she|it|they|him|them)\b",
    re.IGNORECASE,
)


def lost_words(question: str, rewritten: str) -> list[str]:
    """Words of a follow-up that its rewrite dropped ("What was laid there?" -> "What was discussed at ...").

    The noun of "that country" may go: it is what the rewrite replaces.
    """
    kept = {stem(w) for w in content_words(rewritten)}
    replaced = {stem(w) for m in REFERENCE.finditer(question) if m.group("that") for w in content_words(m.group(0))}
    return [w for w in content_words(question) if stem(w) not in kept and stem(w) not in replaced]


def resolve_reference(question: str, previous_answer: str) -> str:
    """Put the previous answer in place of the follow-up's first pronoun, when the model's rewrite lost words.

    A question without a pronoun is taken to stand alone already.
    """
    ref = re.sub(r"\s*\[\d+\]", "", previous_answer).strip().rstrip(".").strip()
    if not ref or ref.startswith("The article does not say"):
        return question
    ref = re.sub(r"^(The|A|An|Its|Their)\b", lambda m: m.group(0).lower(), ref)
    m = REFERENCE.search(question)
    if m is None:
        return question
    if m.group("there"):
        new = f"at {ref}"
    elif m.group("own"):
        new = f"{ref}'s"
    else:
        new = ref
    return question[: m.start()] + new + question[m.end() :]


def clean_question(question: object, limit: int) -> str:
    if not isinstance(question, str):
        raise InputError("The question must be text.")
    q = CONTROL.sub(" ", unicodedata.normalize("NFC", question)).strip()
    if not q:
        raise InputError("Please type a question.")
    if len(q) > limit:
        raise InputError(f"The question is {len(q):,} characters long; the limit is {limit:,}. Please shorten it.")
    return q


def _load_prompt(settings: Settings, name: str) -> str:
    path = settings.prompts / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Prompt file {path} is missing.") from exc


class Assistant:
    """Holds the loaded sources, index, retriever and model so that repeated questions reload nothing."""

    def __init__(self, settings: Settings | None = None, progress: bool = False):
        self.settings = settings or Settings.from_env()
        t0 = time.perf_counter()
        self.documents = load_documents(self.settings.seeds, self.settings.root)
        self._texts = {d.source: d.text for d in self.documents}
        self.index = build_or_load(self.documents, self.settings, progress=progress)
        self.retriever = HybridRetriever(self.index, k=self.settings.k, rrf_k=self.settings.rrf_k)
        self.vocab = Vocabulary("\n".join(d.text for d in self.documents))
        self._vocabs: dict[str, Vocabulary] = {}
        self.startup_s = time.perf_counter() - t0
        self._chat = None
        self._lock = threading.Lock()
        # The system message (instructions + article) is shared by both chains, so llama.cpp reuses its
        # evaluated prefix for every request instead of re-reading the article.
        self.system_prompt = _load_prompt(self.settings, "system.md")
        self.answer_prompt = _load_prompt(self.settings, "answer.md")
        self.condense_prompt = _load_prompt(self.settings, "condense.md")

    # -- model ---------------------------------------------------------------------------------------
    @property
    def chat(self):
        with self._lock:
            if self._chat is None:
                self._chat = llm_mod.chat_model(self.settings)
        return self._chat

    @property
    def model(self) -> str:
        return llm_mod.model_label(self.settings)

    def full_context(self) -> bool:
        return sum(len(p.text) for p in self.index.passages) <= self.settings.full_context_chars

    def warm(self) -> str:
        """Load the model and evaluate (or restore from disk) the fixed prompt prefix, before users arrive."""
        chat = self.chat
        if not hasattr(chat, "warm") or not self.full_context():
            return "not applicable"
        system = self.system_prompt.format(context=self.format_context(self.index.passages))
        return chat.warm(system, self.settings.index / "llm-state")

    def answer_chain(self):
        """LCEL: prompt | model | text. ``invoke``, ``stream`` and ``batch`` all work on it."""
        prompt = ChatPromptTemplate.from_messages([("system", self.system_prompt), ("human", self.answer_prompt)])
        return prompt | self.chat | StrOutputParser()

    def condense_chain(self):
        prompt = ChatPromptTemplate.from_messages([("system", self.system_prompt), ("human", self.condense_prompt)])
        return prompt | self.chat | StrOutputParser()

    # -- pieces ----------------------------------------------------------------------------------------
    def source_text(self, source: str) -> str:
        if source not in self._texts:
            self._texts[source] = read_text(self.settings.root / source)
        return self._texts[source]

    def context_passages(self, hits: list[Hit], source: str | None = None) -> list[Passage]:
        """The whole corpus (or the one article asked about) when it is small, else the hits.

        A whole small corpus is a stable prompt prefix that llama.cpp evaluates once and reuses.
        """
        if source is None:
            chosen = self.index.passages if self.full_context() else [h.passage for h in hits]
        else:
            doc = [p for p in self.index.passages if p.source == source]
            small = sum(len(p.text) for p in doc) <= self.settings.full_context_chars
            chosen = doc if small else [h.passage for h in hits]
        return sorted(chosen, key=lambda p: p.order)

    def sources(self) -> list[str]:
        return [d.source for d in self.documents]

    def resolve_source(self, source: str | None) -> str | None:
        """None (all articles), a source path as cited, or a file name; anything else is a clear error."""
        if source is None or source.strip().lower() in {"", "all", "all articles"}:
            return None
        names = {d.source: d.source for d in self.documents} | {Path(d.source).name: d.source for d in self.documents}
        if source not in names:
            raise InputError(f"There is no article {source!r}. Choose one of: {', '.join(self.sources())}.")
        return names[source]

    def vocabulary(self, source: str | None) -> Vocabulary:
        """Words and names the checks may accept: the whole corpus, or only the article asked about."""
        if source is None:
            return self.vocab
        if source not in self._vocabs:
            self._vocabs[source] = Vocabulary(self._texts[source])
        return self._vocabs[source]

    def format_context(self, passages: list[Passage]) -> str:
        multi = len({p.source for p in passages}) > 1
        parts, last = [], None
        for p in passages:
            if multi and p.source != last:
                parts.append(f"[{Path(p.source).name}]")
                last = p.source
            parts.append(p.text)
        return "\n\n".join(parts)

    def _count_tokens(self, text: str) -> int:
        llama = getattr(self.chat, "llama", None)
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False)) if llama else len(text.encode()) // 3

    def check_tokens(self, question: str) -> None:
        """Refuse a question the model cannot read whole (a character limit does not bound tokens)."""
        n = self._count_tokens(question)
        if n > self.settings.max_question_tokens:
            raise InputError(
                f"The question is too long for the model ({n} tokens; the limit is "
                f"{self.settings.max_question_tokens}). Please shorten it."
            )

    def standalone_question(self, question: str, history: list[tuple[str, str]] | None, context: str) -> str:
        if not history:
            return question
        self.check_tokens(question)

        def render(turns: list[tuple[str, str]]) -> str:
            return "\n".join(f"User: {u[:400]}\nAssistant: {a[:400]}" for u, a in turns)

        turns = history[-self.settings.max_history_turns :]
        convo = render(turns)
        # Drop the oldest turns until the conversation fits the context window beside the prompt prefix.
        budget = self.settings.n_ctx - len(llm_mod._PREFIX) - self.settings.max_question_tokens
        budget -= self.settings.max_tokens + 256
        while len(turns) > 1 and self._count_tokens(convo) > budget:
            turns = turns[1:]
            convo = render(turns)
        rewritten = self.condense_chain().invoke({"context": context, "history": convo, "question": question}).strip()
        rewritten = rewritten.splitlines()[0].strip().strip('"') if rewritten else ""
        if not rewritten or len(rewritten) > 3 * len(question) + 200:
            return question
        if lost_words(question, rewritten):
            return resolve_reference(question, history[-1][1])
        return rewritten

    def precheck(self, question: str, signals: dict[str, str | None], vocab: Vocabulary | None = None) -> None:
        """Signals available before asking the model: are the question's names, numbers and terms in the sources?"""
        vocab = vocab or self.vocab
        missing = [" ".join(e) for e in entities(question) if not vocab.mentions(e)]
        missing += [n for n in _NUMERAL.findall(question) if n.replace(",", "") not in vocab.numbers]
        signals["unknown_names"] = f"the sources never mention {', '.join(dict.fromkeys(missing))}" if missing else None
        terms = content_words(question)
        coverage = vocab.coverage(terms) if terms else 1.0
        signals["coverage"] = round(coverage, 4)  # a number, kept for threshold curves
        low = coverage < self.settings.min_term_coverage
        signals["term_coverage"] = "most of the question's terms do not occur in the sources" if low else None

    def postcheck(
        self,
        question: str,
        raw: str,
        passages: list[Passage],
        signals: dict[str, str | None],
        vocab: Vocabulary | None = None,
    ) -> tuple[str, list[Sentence]]:
        """Clean the model's answer, find its support, and record each check's verdict (None = passed)."""
        vocab = vocab or self.vocab
        for name in POST_SIGNALS:
            signals[name] = None
        short = reply_line(raw)
        if declines(short):
            signals["model_declined"] = NO_ANSWER
            return short, []
        a_terms = {stem(w) for w in content_words(short)}
        if a_terms and a_terms <= {stem(w) for w in content_words(question)}:
            signals["echo"] = ECHO
        short = drop_restated(short, question)
        short = self._trim_foreign(short, vocab)
        support = select_support(short, question, sentences_of(passages))
        if not support:
            signals["answer_grounded"] = "no sentence supports the answer"
            return short, []
        check = verify(short, " ".join(s.text for s in support), vocab)
        foreign = [w for w in content_words(short) if not vocab.has(w, fuzzy=False)]
        if check.ok and foreign:  # e.g. an injected "... banana": words the sources never use
            check.ok, check.reason = False, f"the answer uses words that are not in the sources: {', '.join(foreign)}"
        signals["answer_grounded"] = None if check.ok else check.reason
        # The cited paragraph must be about the question's names (e.g. not Aliyev for "president of Turkey").
        where = Vocabulary(" ".join({s.passage.text for s in support}))
        absent = [" ".join(e) for e in entities(question) if not where.mentions(e)]
        signals["right_passage"] = f"the supporting passage does not mention {', '.join(absent)}" if absent else None
        return short, support

    def verify(self, question: str, support: list[Sentence], signals: dict, decision: Decision) -> None:
        """Ask again over the cited sentences alone; abstain if the model then finds no answer there.

        Over the whole article the 1.5B model grabs a name near the question's words whatever its role
        ("Who is the prime minister?" -> the *Deputy* Prime Minister) or answers a question with one word
        swapped ("How quickly is the sea level dropping?" where it is rising). Over one sentence it reads
        more closely and declines those. The second reply only decides whether to answer: the first answer is
        kept (a second, different answer was as often wrong as right). Off by default (``ASSISTANT_VERIFY``):
        measured on 120 SQuAD 2.0 questions it declines 61.7 -> 78.3 % of the unanswerable ones but answers
        56.7 -> 51.7 % of the answerable ones; on the article set it trades two paraphrased questions for two
        unanswerable ones; and it costs one more model call (README, "Answer quality").
        """
        inputs = {"context": " ".join(s.text for s in support), "question": question}
        decision.verify_raw = self.answer_chain().invoke(inputs)
        declined = declines(reply_line(decision.verify_raw))
        signals["verified"] = "the model finds no answer in the cited sentences alone" if declined else None

    def _trim_foreign(self, short: str, vocab: Vocabulary) -> str:
        """Repair an answer by dropping words the sources never use from its ends ("Antalya ... Forum banana").

        A foreign word in the middle is left for the grounding check, which then withholds the answer.
        """
        tokens = short.split()

        def foreign(tok: str) -> bool:  # a lower-case word the sources never use; a foreign *name* is never cut
            ws = content_words(tok)
            return bool(ws) and tok[:1].islower() and not all(vocab.has(w, fuzzy=False) for w in ws)

        kept = list(tokens)
        while len(kept) > 1 and foreign(kept[-1]):
            kept.pop()
        while len(kept) > 1 and foreign(kept[0]):
            kept.pop(0)
        if len(tokens) - len(kept) > 2 or not content_words(" ".join(kept)):
            return short
        tokens = kept
        return " ".join(tokens).rstrip(" ,;:")

    def _failed(self, signals: dict, names: tuple[str, ...]) -> str | None:
        off = self.settings.disabled
        return next((signals[n] for n in names if signals.get(n) and n not in off), None)

    # -- the contract --------------------------------------------------------------------------------
    def stream(
        self, question: str, history: list[tuple[str, str]] | None = None, source: str | None = None
    ) -> Iterator[tuple[str, str | Decision | Answer]]:
        """Yield ("token", text) while the model writes, ("decision", Decision), then ("answer", Answer).

        ``source`` limits the answer to one article (a path as cited, or its file name); None means all.
        """
        t0 = time.perf_counter()
        q = clean_question(question, self.settings.max_question_chars)
        source = self.resolve_source(source)
        vocab = self.vocabulary(source)
        history = [(str(u), str(a)) for u, a in (history or [])]
        timings: dict[str, float] = {}
        standalone, reason = q, None
        if INJECTION.search(q):
            reason = "the question asks to change the assistant's instructions"
        elif history:
            timings["warm_s"] = _timed(self.warm)
            # Rewrite the follow-up with the article in view (same prompt prefix as answering).
            around = self.context_passages(self.retriever.retrieve(f"{history[-1][0]} {q}", source=source), source)
            standalone = self.standalone_question(q, history, self.format_context(around))
        timings["condense_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        hits = self.retriever.retrieve(standalone, source=source)
        timings["retrieve_s"] = time.perf_counter() - t1
        decision = Decision(standalone=standalone, hits=hits)
        signals = decision.signals
        signals["injection"] = reason
        self.precheck(standalone, signals, vocab)
        reason = self._failed(signals, PRE_SIGNALS)
        raw, support = "", []
        if reason is None or self.settings.check_all:
            timings["warm_s"] = timings.get("warm_s", 0.0) + _timed(self.warm)
            self.check_tokens(standalone)
            t2 = time.perf_counter()
            passages = self.context_passages(hits, source)
            inputs = {"context": self.format_context(passages), "question": standalone}
            for piece in self.answer_chain().stream(inputs):
                if "first_token_s" not in timings:
                    timings["first_token_s"] = time.perf_counter() - t0
                raw += piece
                if reason is None:
                    yield "token", piece
            timings["generate_s"] = time.perf_counter() - t2
            short, support = self.postcheck(standalone, raw, passages, signals, vocab)
            narrow = sorted((h.passage for h in hits[: self.settings.retry_k]), key=lambda p: p.order)
            retry = "retry" not in self.settings.disabled and self.settings.retry_k > 0
            if retry and self._failed(signals, RETRYABLE) and len(narrow) < len(passages):
                # A small model often misses a fact in the whole article yet finds it in the two passages
                # retrieval ranks first; the checks below still apply to whatever it says then.
                t3 = time.perf_counter()
                inputs = {"context": self.format_context(narrow), "question": standalone}
                raw = self.answer_chain().invoke(inputs)
                timings["retry_s"] = time.perf_counter() - t3
                short, support = self.postcheck(standalone, raw, narrow, signals, vocab)
                decision.retried = True
            answering = reason is None and not self._failed(signals, POST_SIGNALS)
            if support and self.settings.verify and (answering or self.settings.check_all):
                t4 = time.perf_counter()
                self.verify(standalone, support, signals, decision)
                timings["verify_s"] = time.perf_counter() - t4
            reason = reason or self._failed(signals, POST_SIGNALS)
        decision.raw = raw
        timings["total_s"] = time.perf_counter() - t0
        yield "decision", decision
        if reason is not None:
            decision.reasons.append(reason)
            yield "answer", Answer(text=abstain_text(), abstained=True, timings=timings, model=self.model)
            return
        cites = make_citations(support, self.source_text)
        marks = "".join(f"[{c.n}]" for c in cites)
        text = f"{short.rstrip('.')} {marks}."
        yield "answer", Answer(text=text, citations=cites, abstained=False, timings=timings, model=self.model)

    def answer(self, question: str, history: list[tuple[str, str]] | None = None, source: str | None = None) -> Answer:
        final = None
        for kind, value in self.stream(question, history, source):
            if kind == "answer":
                final = value
        assert isinstance(final, Answer)
        return final


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


_DEFAULT: Assistant | None = None
_DEFAULT_LOCK = threading.Lock()


def default_assistant() -> Assistant:
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Assistant()
        return _DEFAULT


def answer(question: str, history: list[tuple[str, str]] | None = None, source: str | None = None) -> Answer:
    """Answer a question about the sources in ``seeds/`` (or only ``source``) with citations, or abstain."""
    return default_assistant().answer(question, history, source)
