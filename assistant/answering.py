"""Question in, grounded answer out: the one ``answer()`` that the CLI, the chat page and the evaluation share.

The steps: clean the question -> rewrite a follow-up -> retrieve -> decide what may be answered (names and
terms in the sources, an open question the article raises itself) -> generate sentences under the
instruction for the question's kind -> ground every sentence (``grounding``) -> cite -> decide. The model only
writes; whether to answer is decided from signals the system has, and any failed signal means an abstention.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from . import llm as llm_mod
from .citations import Sentence
from .config import Settings
from .documents import Passage, load_documents, read_text
from .grounding import (
    DECLINE,
    ECHO,
    POLARITY,
    Claim,
    clean_reply,
    finished_sentences,
    ground,
    mentioned,
    open_question,
    plain,
    relevance,
    split_sentences,
    statements,
)
from .index import build_or_load
from .kinds import SPECS, Kind, classify, normalize_chat
from .retrieval import Hit, HybridRetriever
from .schema import Answer, AnswerSentence, Citation, InputError
from .text import STOPWORDS, Vocabulary, content_words, entities, numbers, stem, words

INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules|prompt|above|previous|context|article)\b"
    r"|\b(system|hidden|initial) prompt\b|\breveal\b.{0,30}\b(prompt|instructions?)\b|\byou are now\b|\bact as\b"
    r"|\bpretend (to be|you)\b|\brole[- ]?play\b|\bjailbreak\b|\bDAN\b|\bdeveloper mode\b"
    r"|\b(outside|general|your own|prior) knowledge\b|\bfrom now on\b",
    re.IGNORECASE,
)
NO_ANSWER = "the model found no answer in the article"
OPEN = "the article raises this question itself and leaves it open"
RAISED = "The article raises this question but does not answer it"
# Every signal that can make the assistant abstain, in the order they are checked (README: "When it answers").
PRE_SIGNALS = ("injection", "unknown_names", "term_coverage", "open_question")
POST_SIGNALS = ("model_declined", "echo", "answer_grounded", "answer_type", "on_topic", "right_passage", "verified")
MIN_RELEVANCE = 0.4  # share of a yes/no question's words its cited evidence must hold
SIGNALS = PRE_SIGNALS + POST_SIGNALS
RETRYABLE = ("model_declined", "echo")
_NUMERAL = re.compile(r"\d+(?:[.,]\d+)*")
# Words that ask about the text itself, not about its content: not looked for in the sources.
META_WORDS = set(
    """summarize summarise summary summaries gist main point points key takeaway takeaways overview recap tl dr
    tldr brief briefly nutshell list name names named people person persons countries country places items
    mentioned mentions piece story post explain""".split()
)
_PART = re.compile(
    r"\b(part|paragraph|section|bit|passage|end|ending|wrap|conclusion|conclude|beginning|start)\b", re.I
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
    kind: str = ""  # what the question asks for (kinds.KINDS)
    claims: list[Claim] = field(default_factory=list)  # every written sentence, kept or dropped, and why
    phrase: str = ""  # a fact question: the phrase the model found, before it was said as a sentence
    signals: dict = field(default_factory=dict)  # signal name -> reason it failed, or None; plus "coverage"


def abstain_text(detail: str = "") -> str:
    return "The article does not say" + (f" {detail}" if detail else "") + "."


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


def resolve_reference(question: str, previous_answer: str, previous_question: str = "") -> str:
    """Put the previous answer in place of the follow-up's first pronoun, when the model's rewrite lost words.

    A question without a pronoun is taken to stand alone already. An answer in a sentence ("Aliyev and Al-Sharaa
    met at the Antalya Diplomacy Forum") gives only what it adds to its question ("the Antalya Diplomacy Forum").
    """
    ref = re.sub(r"\s*\[\d+\]", "", previous_answer).strip().rstrip(".").strip()
    if not ref or ref.startswith("The article does not say"):
        return question
    if previous_question:
        ref = short_form(ref, previous_question)
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


def _load_kind_prompts(settings: Settings) -> dict[str, str]:
    """``prompts/kinds.yaml``: the instruction for each kind of question, and the decline option."""
    path = settings.prompts / "kinds.yaml"
    try:
        data = yaml.safe_load(_load_prompt(settings, "kinds.yaml"))
    except yaml.YAMLError as exc:
        raise InputError(f"Prompt file {path} is not valid YAML: {exc}") from exc
    missing = [k for k in (*SPECS, "summary_part", "decline") if not isinstance((data or {}).get(k), str)]
    if missing:
        raise InputError(f"Prompt file {path} lacks an instruction for: {', '.join(missing)}.")
    return data


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
        self.kind_prompts = _load_kind_prompts(self.settings)
        self.sentence_prompt = _load_prompt(self.settings, "sentence.md")

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

    def answer_chain(self, max_tokens: int | None = None):
        """LCEL: prompt | model | text. ``invoke``, ``stream`` and ``batch`` all work on it."""
        prompt = ChatPromptTemplate.from_messages([("system", self.system_prompt), ("human", self.answer_prompt)])
        model = self.chat.bind(max_tokens=max_tokens) if max_tokens else self.chat
        return prompt | model | StrOutputParser()

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
        budget -= max(k.max_tokens for k in SPECS.values()) + 256
        while len(turns) > 1 and self._count_tokens(convo) > budget:
            turns = turns[1:]
            convo = render(turns)
        rewritten = self.condense_chain().invoke({"context": context, "history": convo, "question": question}).strip()
        rewritten = rewritten.splitlines()[0].strip().strip('"') if rewritten else ""
        if not rewritten or len(rewritten) > 3 * len(question) + 200:
            return question
        if lost_words(question, rewritten):
            return resolve_reference(question, history[-1][1], history[-1][0])
        return rewritten

    def precheck(
        self, question: str, signals: dict[str, str | None], vocab: Vocabulary | None = None, kind: Kind | None = None
    ) -> None:
        """Signals available before asking the model: are the question's names, numbers and terms in the sources?

        A summary asks about the text itself, so its words are not looked for in it.
        """
        vocab = vocab or self.vocab
        summary = kind is not None and kind.name == "summary"
        missing = [" ".join(e) for e in entities(question) if not vocab.mentions(e)]
        missing += [n for n in _NUMERAL.findall(question) if n.replace(",", "") not in vocab.numbers]
        head = _HEAD.search(question)  # "What is the capital of ...?": the thing asked about must be in the text
        if head and head.group(1).lower() not in META_WORDS and not mentioned(vocab, head.group(1)):
            missing.append(head.group(1))
        signals["unknown_names"] = f"the sources never mention {', '.join(dict.fromkeys(missing))}" if missing else None
        terms = [w for w in content_words(question) if w not in META_WORDS]  # "list the people named" asks of the text
        coverage = vocab.coverage(terms) if terms and not summary else 1.0
        signals["coverage"] = round(coverage, 4)  # a number, kept for threshold curves
        low = coverage < self.settings.min_term_coverage
        signals["term_coverage"] = "most of the question's terms do not occur in the sources" if low else None

    def generate(self, kind: Kind, passages: list[Passage], question: str) -> Iterator[str]:
        """The model's reply, piece by piece, under the kind's instruction and length."""
        context, instruction = self.format_context(passages), self.instruction(kind, question)
        inputs = {"context": context, "question": question, "instruction": instruction}
        yield from self.answer_chain(kind.max_tokens).stream(inputs)

    def instruction(self, kind: Kind, question: str = "") -> str:
        name = "summary_part" if kind.name == "summary" and _PART.search(question) else kind.name
        text = self.kind_prompts[name].strip()
        return f"{text} {self.kind_prompts['decline'].strip()}" if kind.may_decline else text

    def verify(self, question: str, support: list[Sentence], signals: dict, decision: Decision) -> None:
        """Ask again over the cited sentences alone; abstain if the model then finds no answer there.

        Over the whole article the 1.5B model grabs a name near the question's words whatever its role
        ("Who is the prime minister?" -> the *Deputy* Prime Minister) or answers a question with one word
        swapped ("How quickly is the sea level dropping?" where it is rising). Over one sentence it reads
        more closely and declines those. The second reply only decides whether to answer: the first answer is
        kept. Off by default (``ASSISTANT_VERIFY``): it trades paraphrased questions for unanswerable ones and
        costs one more model call (docs/quality.md).
        """
        inputs = {
            "context": " ".join(s.text for s in support),
            "question": question,
            "instruction": self.instruction(SPECS["fact"]),
        }
        decision.verify_raw = self.answer_chain(SPECS["fact"].max_tokens).invoke(inputs)
        declined = bool(DECLINE.search(decision.verify_raw)) or not decision.verify_raw.strip()
        signals["verified"] = "the model finds no answer in the cited sentences alone" if declined else None

    def _failed(self, signals: dict, names: tuple[str, ...]) -> str | None:
        off = self.settings.disabled
        return next((signals[n] for n in names if signals.get(n) and n not in off), None)

    def _claims(self, pieces: Iterator[str], question: str, kind: Kind, passages, vocab, out: list[Claim]):
        """Ground each sentence as soon as the model finishes it; yields ("token", piece) and ("claim", Claim)."""
        candidates = statements(passages)
        buffer, seen, polarity = "", set(), []

        def check(text: str) -> Claim | None:
            key = " ".join(content_words(text))
            if key in seen or len([c for c in out if c.kept]) >= kind.max_sentences:
                return None
            seen.add(key)
            claim = ground(plain(text), question, candidates, vocab, max_cites=3)
            said = POLARITY.match(text)
            if kind.name == "yesno" and said and not claim.kept:  # "No, Baku is not following Turkey's line."
                polarity.append(said.group(1).capitalize())
            elif polarity and claim.kept and not said:  # ... becomes "No — Baku appears to be carving its own path"
                claim.text = f"{polarity.pop()} — {_decapitalize(claim.text)}"
            out.append(claim)
            return claim

        for piece in pieces:
            if len([c for c in out if c.kept]) >= kind.max_sentences:
                getattr(pieces, "close", lambda: None)()  # enough said: stop the model (and free its lock)
                break
            yield "token", piece
            buffer += piece
            done, buffer = finished_sentences(buffer)
            for text in done:
                claim = check(text)
                if claim is not None:
                    yield "claim", claim
        for text in split_sentences(clean_reply(buffer)):
            claim = check(text)
            if claim is not None:
                yield "claim", claim

    def _judge(self, question: str, kind: Kind, raw: str, claims: list[Claim], signals: dict) -> None:
        """The answer-level signals, from the grounded sentences."""
        kept = [c for c in claims if c.kept]
        for name in POST_SIGNALS:
            signals[name] = None
        if not kept and (not raw.strip() or DECLINE.search(raw)):
            signals["model_declined"] = NO_ANSWER
        elif not kept and claims and all(c.reason == ECHO for c in claims):
            signals["echo"] = ECHO
        elif not kept:
            signals["answer_grounded"] = claims[0].reason if claims else "the reply is empty"
        else:
            signals["answer_type"] = wrong_type(question, " ".join(c.text for c in kept))
            share = relevance(question, [s for c in kept for s in c.support])
            off_topic = kind.name == "yesno" and share < MIN_RELEVANCE
            signals["relevance"] = round(share, 4)  # a number, kept for threshold curves
            why = f"the cited sentences hold only {share:.0%} of the question's words"
            signals["on_topic"] = why if off_topic else None
            where = Vocabulary(" ".join({s.passage.text for c in kept for s in c.support}))
            absent = [" ".join(e) for e in entities(question) if not where.mentions(e)]
            absent_text = f"the supporting passage does not mention {', '.join(absent)}"
            signals["right_passage"] = absent_text if absent else None

    # -- the contract --------------------------------------------------------------------------------
    def stream(
        self, question: str, history: list[tuple[str, str]] | None = None, source: str | None = None
    ) -> Iterator[tuple[str, object]]:
        """Yield ("token", text) while the model writes, ("sentence", Answer) with the sentences checked so far
        each time one more passes its check, ("decision", Decision), then ("answer", Answer), the final word.

        ``source`` limits the answer to one article (a path as cited, or its file name); None means all.
        """
        t0 = time.perf_counter()
        q = normalize_chat(clean_question(question, self.settings.max_question_chars))
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
        kind = classify(standalone)
        decision = Decision(standalone=standalone, hits=hits, kind=kind.name)
        signals = decision.signals
        signals["injection"] = reason
        self.precheck(standalone, signals, vocab, kind)
        passages = self.context_passages(hits, source)
        raised = open_question(standalone, passages)
        signals["open_question"] = OPEN if raised is not None else None
        reason = self._failed(signals, PRE_SIGNALS)
        raw, claims = "", []
        if reason is None or self.settings.check_all:
            timings["warm_s"] = timings.get("warm_s", 0.0) + _timed(self.warm)
            self.check_tokens(standalone)
            t2 = time.perf_counter()
            for event, value in self._claims(self.generate(kind, passages, standalone), standalone, kind, passages,
                                             vocab, claims):
                if event == "token":
                    timings.setdefault("first_token_s", time.perf_counter() - t0)
                    raw += value
                    if reason is None:
                        yield "token", value
                elif reason is None and value.kept:
                    timings.setdefault("first_sentence_s", time.perf_counter() - t0)
                    yield "sentence", self.compose([c for c in claims if c.kept], standalone, dict(timings))
            timings["generate_s"] = time.perf_counter() - t2
            self._judge(standalone, kind, raw, claims, signals)
            narrow = sorted((h.passage for h in hits[: self.settings.retry_k]), key=lambda p: p.order)
            retry = "retry" not in self.settings.disabled and self.settings.retry_k > 0
            if retry and self._failed(signals, RETRYABLE) and len(narrow) < len(passages):
                # A small model often misses a fact in the whole article yet finds it in the two passages
                # retrieval ranks first; every sentence it writes then is grounded the same way.
                t3 = time.perf_counter()
                claims = []
                raw = "".join(self.generate(kind, narrow, standalone))
                for _ in self._claims(iter([raw]), standalone, kind, narrow, vocab, claims):
                    pass
                timings["retry_s"] = time.perf_counter() - t3
                self._judge(standalone, kind, raw, claims, signals)
                decision.retried = True
            answering = reason is None and not self._failed(signals, POST_SIGNALS)
            if kind.name == "fact" and answering and self.settings.fact_sentences:
                t5 = time.perf_counter()
                used = narrow if decision.retried else passages
                claims, decision.phrase = self.restate(standalone, raw, claims, used, vocab)
                timings["restate_s"] = time.perf_counter() - t5
            support = [s for c in claims if c.kept for s in c.support]
            if support and self.settings.verify and (answering or self.settings.check_all):
                t4 = time.perf_counter()
                self.verify(standalone, support, signals, decision)
                timings["verify_s"] = time.perf_counter() - t4
            reason = reason or self._failed(signals, POST_SIGNALS)
        decision.raw = raw
        decision.claims = claims
        timings["total_s"] = time.perf_counter() - t0
        yield "decision", decision
        if reason is not None:
            decision.reasons.append(reason)
            if reason == OPEN and raised is not None:
                yield "answer", self.raised_answer(raised, timings)
                return
            yield "answer", Answer(text=abstain_text(), abstained=True, timings=timings, model=self.model)
            return
        yield "answer", self.compose([c for c in claims if c.kept], standalone, timings, decision.phrase)

    def restate(
        self, question: str, phrase: str, claims: list[Claim], passages: list[Passage], vocab: Vocabulary
    ) -> tuple[list[Claim], str]:
        """A fact found as a phrase ("Deputy Prime Minister Samir Sharifov"), said as one sentence.

        The 1.5B model finds facts far better when asked for the shortest phrase (article set: 33/42 answered
        right, against 23/42 when asked for a sentence), so the phrase decides, and the model is then asked, in
        the same conversation, to say it as a sentence. The sentence is kept only when it is grounded and still
        holds every word of the phrase; otherwise the answer stays the phrase. Returns (claims, phrase).
        """
        kept = [c for c in claims if c.kept]
        short = " ".join(c.text.rstrip(".") for c in kept)
        prompt = ChatPromptTemplate.from_messages(
            [("system", self.system_prompt), ("human", self.answer_prompt), ("ai", "{reply}"),
             ("human", self.sentence_prompt)]
        )  # fmt: skip
        chain = prompt | self.chat.bind(max_tokens=SPECS["explain"].max_tokens) | StrOutputParser()
        inputs = {
            "context": self.format_context(passages), "question": question, "reply": phrase.strip(),
            "instruction": self.instruction(SPECS["fact"]),
        }  # fmt: skip
        said = split_sentences(clean_reply(chain.invoke(inputs)))
        if not said:
            return claims, short
        claim = ground(plain(said[0]), question, statements(passages), vocab, max_cites=3)
        wanted = {stem(w) for w in content_words(short)}
        if claim.kept and wanted <= {stem(w) for w in content_words(claim.text)}:
            return [claim], short
        return claims, short

    def compose(self, claims: list[Claim], question: str, timings: dict, phrase: str = "") -> Answer:
        """Number the cited sentences in order of first use and put each sentence's markers at its end."""
        numbered: dict[tuple[str, int], int] = {}
        ordered: list[Sentence] = []
        sentences = []
        for c in claims:
            marks = []
            for s in c.support:
                key = (s.source, s.span.start)
                if key not in numbered:
                    numbered[key] = len(ordered) + 1
                    ordered.append(s)
                marks.append(numbered[key])
            sentences.append(AnswerSentence(text=c.text, citations=marks))
        cites = [
            Citation(n=i, source=s.source, start=s.span.start, end=s.span.end,
                     quote=self.source_text(s.source)[s.span.start : s.span.end])
            for i, s in enumerate(ordered, start=1)
        ]
        text = " ".join(with_markers(s.text, s.citations) for s in sentences)
        short = phrase or short_form(claims[0].text, question)
        return Answer(text=text, short=short, sentences=sentences, citations=cites, timings=timings, model=self.model)

    def raised_answer(self, sentence: Sentence, timings: dict) -> Answer:
        """"The article raises this question but does not answer it [1]." with the article's question cited."""
        quote = self.source_text(sentence.source)[sentence.span.start : sentence.span.end]
        cite = Citation(n=1, source=sentence.source, start=sentence.span.start, end=sentence.span.end, quote=quote)
        line = AnswerSentence(text=RAISED, citations=[1])
        return Answer(
            text=with_markers(RAISED, [1]), sentences=[line], citations=[cite], abstained=True, timings=timings,
            model=self.model,
        )

    def answer(self, question: str, history: list[tuple[str, str]] | None = None, source: str | None = None) -> Answer:
        final = None
        for kind, value in self.stream(question, history, source):
            if kind == "answer":
                final = value
        assert isinstance(final, Answer)
        return final


def _decapitalize(text: str) -> str:
    first = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if first.lower() in STOPWORDS else text


def wrong_type(question: str, answer: str) -> str | None:
    """Why the answer is not the kind of thing asked for: an amount without a number, a time without a time."""
    if _WANTS_NUMBER.search(question) and not numbers(answer):
        return "the question asks for an amount and the answer gives none"
    if _WANTS_TIME.search(question) and not _TIME_WORDS.search(answer):
        return "the question asks when and the answer gives no time"
    return None


def with_markers(text: str, marks: list[int]) -> str:
    """"Sharifov led the delegation." + [1] -> "Sharifov led the delegation [1]." (the end mark kept)."""
    body = text.rstrip()
    end = body[-1] if body and body[-1] in ".!?" else "."
    body = body.rstrip(".!?").rstrip()
    return f"{body} {''.join(f'[{n}]' for n in marks)}{end}" if marks else f"{body}{end}"


def short_form(sentence: str, question: str) -> str:
    """The answer as a phrase (for SQuAD EM/F1): the sentence without the words that restate the question."""
    text = re.sub(r"^\s*(yes|no)\b[\s,.;:!—–-]*", "", sentence.strip(), flags=re.IGNORECASE).rstrip(".!? ")
    text = drop_restated(text, question)
    tail = drop_restated(" ".join(reversed(text.split())), question)
    return " ".join(reversed(tail.split())).strip(" ,;:") or text


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
