"""The query engine: question in, grounded answer out; the one ``answer()`` the CLI, the chat page and the
evaluation share.

``Assistant.stream`` is the pipeline, one named step each: clean the question -> rewrite a follow-up ->
retrieve -> check the question (``checks``) -> gate (does the plain reply answer? then show the closest sentences)
-> write sentences under the instruction for the question's kind (``prompts``) -> ground every sentence as it is
finished (``grounding``) -> fall back / retry narrower / restate a fact / verify -> check the answer (``checks``) ->
cite and compose (``synthesis``). The model only writes; whether to
answer is decided from signals the system has, and any failed signal means an abstention.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import checks, claims, library, outcomes, structure
from . import llm as llm_mod
from .citations import Sentence
from .config import Settings
from .conversation import History, accept_rewrite, clean_question, recent_turns
from .documents import Passage, load_documents, read_text
from .grounding import DECLINE, Claim, clean_reply, ground, ground_stream, open_question, plain, split_sentences
from .grounding import statements as statements_of
from .index import build_or_load
from .kinds import SPECS, Kind, classify, normalize_chat
from .prompts import Prompts
from .retrieval import Hit, HybridRetriever, SentenceRanker
from .schema import Answer, InputError
from .synthesis import abstention, compose, quoted_answer, raised_answer, structure_answer
from .text import Vocabulary, content_words, numbers, stem


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
    outcome: str = ""  # answered, quoted or declined (``outcomes``)
    quote_features: dict = field(default_factory=dict)  # the quote model's inputs, when a signal failed
    quote_probability: float | None = None  # its P(the closest sentences hold the answer)


@dataclass
class Run:
    """One question on its way through the pipeline: what each step needs from the ones before it."""

    question: str
    history: History
    source: str | None
    vocab: Vocabulary
    t0: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    standalone: str = ""
    kind: Kind = SPECS["fact"]
    hits: list[Hit] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    raised: Sentence | None = None  # the article's own open question, when the question asks it again
    decision: Decision = field(default_factory=Decision)
    raw: str = ""
    claims: list[Claim] = field(default_factory=list)
    reason: str | None = None  # the first failed signal: an abstention
    structural: tuple[str, list[Sentence]] | None = None  # the part of the text a question asks for by its place
    closest: outcomes.Closest = field(default_factory=outcomes.Closest)  # the sentences a quote would quote
    evidence: bool = False  # the model is shown the sentences closest to the question (``gate``)
    key: str = field(default_factory=lambda: uuid.uuid4().hex)  # names the model state kept between its turns

    @property
    def signals(self) -> dict:
        return self.decision.signals

    @property
    def kept(self) -> list[Claim]:
        return [c for c in self.claims if c.kept]

    def since(self, start: float) -> float:
        return time.perf_counter() - start


class Assistant:
    """Holds the loaded sources, index, retriever and model so that repeated questions reload nothing."""

    def __init__(self, settings: Settings | None = None, progress: bool = False):
        self.settings = settings or Settings.from_env()
        t0 = time.perf_counter()
        llm_mod.preload(self.settings)  # the model loads while the sources and the index open
        library.tidy(self.settings)  # an add killed before its file was whole leaves a .part file
        self.load_corpus(progress)
        self.startup_s = time.perf_counter() - t0
        self._chat = None
        self._lock = threading.Lock()
        self._corpus_lock = threading.Lock()
        self.prompts = Prompts.load(self.settings.prompts)
        self.quote_model = outcomes.QuoteModel.load()

    def load_corpus(self, progress: bool = False) -> None:
        """Read the articles and bring the index up to date (only new or changed text is embedded).

        Everything a question reads is replaced at once, so a question already running keeps the corpus it
        started with."""
        documents = load_documents(self.settings.seeds, self.settings.root)
        index = build_or_load(documents, self.settings, progress=progress)
        retriever = HybridRetriever(index, k=self.settings.k, rrf_k=self.settings.rrf_k)
        vocab = Vocabulary("\n".join(d.text for d in documents))
        self.documents, self.index, self.retriever, self.vocab = documents, index, retriever, vocab
        self._texts = {d.source: d.text for d in documents}
        self._vocabs: dict[str, Vocabulary] = {}
        self.ranker = SentenceRanker(index.store.embeddings)

    # -- the reader's own articles -------------------------------------------------------------------
    def articles(self) -> list[library.Article]:
        return library.articles(self.settings)

    def add(self, path_or_text: str | Path, title: str | None = None, progress=None) -> library.Article:
        """Store an article (a ``Path``, or pasted text), index it, and put its state in the model.

        ``progress`` is called with a line per step. A clear ``ArticleError`` and nothing stored otherwise."""
        say = progress or (lambda line: None)
        say("Reading the article …")
        article = library.add(path_or_text, self.settings, title)
        say(f"Stored as {article.name}; indexing it …")
        with self._corpus_lock:
            self.load_corpus()
        say("Indexed; the model is reading it …")
        self.warm(source=article.source)
        say(f"Ready: {article.title}")
        return article

    def remove(self, name: str) -> library.Article:
        """Remove an added article: its file, then its passages from the index (seed articles cannot be)."""
        with self._corpus_lock:
            article = library.remove(name, self.settings)
            self.load_corpus()
        shutil.rmtree(self.state_dir(article.source), ignore_errors=True)
        return article

    # -- the contract --------------------------------------------------------------------------------
    def stream(
        self, question: str, history: list[tuple[str, str]] | None = None, source: str | None = None
    ) -> Iterator[tuple[str, object]]:
        """Yield ("token", text) while the model writes, ("sentence", Answer) with the sentences checked so far
        each time one more passes its check, ("decision", Decision), then ("answer", Answer), the final word.

        ``source`` limits the answer to one article (a path as cited, or its file name); None means all.
        """
        run = self.begin(question, history, source)
        self.rewrite(run)
        self.retrieve(run)
        self.check_question(run)
        self.structure(run)
        if run.structural is None and (run.reason is None or self.settings.check_all):
            self.gate(run)
            yield from self.write(run)
            yield from self.fall_back(run)
            self.retry(run)
            self.restate(run)
            self.verify(run)
            run.reason = run.reason or self._failed(run.signals, checks.AFTER)
        self.decide(run)
        yield from self.finish(run)

    def answer(self, question: str, history: list[tuple[str, str]] | None = None, source: str | None = None) -> Answer:
        final = None
        for kind, value in self.stream(question, history, source):
            if kind == "answer":
                final = value
        assert isinstance(final, Answer)
        return final

    # -- the steps, in order ---------------------------------------------------------------------------
    def begin(self, question: str, history: list[tuple[str, str]] | None, source: str | None) -> Run:
        """Clean the question (a clear error for bad input), read chat spelling, pick the article(s)."""
        q = normalize_chat(clean_question(question, self.settings.max_question_chars))
        source = self.resolve_source(source)
        history = [(str(u), str(a)) for u, a in (history or [])]
        return Run(question=q, history=history, source=source, vocab=self.vocabulary(source))

    def rewrite(self, run: Run) -> None:
        """A follow-up becomes a stand-alone question; an injection is not rewritten (it is declined)."""
        run.standalone = run.question
        injected = checks.injection(run.question)
        if injected is None and run.history:
            run.timings["warm_s"] = self.warm_for(run)
            previous = run.history[-1][0]
            around = self.context_passages(self.retriever.retrieve(f"{previous} {run.question}", source=run.source),
                                           run.source)  # fmt: skip
            run.standalone = self.standalone_question(run.question, run.history, self.format_context(around))
        run.timings["condense_s"] = run.since(run.t0)
        run.signals["injection"] = injected

    def retrieve(self, run: Run) -> None:
        t = time.perf_counter()
        run.hits = self.retriever.retrieve(run.standalone, source=run.source)
        run.timings["retrieve_s"] = run.since(t)
        run.kind = classify(run.standalone)
        run.passages = self.context_passages(run.hits, run.source)
        d = run.decision
        d.standalone, d.hits, d.kind = run.standalone, run.hits, run.kind.name

    def check_question(self, run: Run) -> None:
        """The signals available before the model: names and terms in the sources, an open question."""
        run.signals.update(
            checks.question_signals(run.standalone, run.vocab, run.kind)
        )
        run.raised = open_question(run.standalone, run.passages)
        run.signals["open_question"] = checks.OPEN if run.raised is not None else None
        run.reason = self._failed(run.signals, checks.BEFORE)

    def structure(self, run: Run) -> None:
        """A question about the text's own layout (its headline, its n-th paragraph) is answered from the layout,
        without the model (``structure``); with several articles and none picked, from the best-retrieved one's."""
        source = run.source or (run.hits[0].passage.source if run.hits else None)
        if run.reason is not None or source is None:
            return
        passages = [p for p in self.index.passages if p.source == source]
        run.structural = structure.find(run.standalone, self.source_text(source), passages)

    def gate(self, run: Run) -> None:
        """For the kinds shown the closest sentences (``evidence_kinds``): whether to answer at all is decided
        without them, by the first sentence the model writes as before passing every check.

        Shown the sentences, the 1.5B model words an answer from them far more often, but it also strings their
        words into an invented answer to a question the article does not answer ("The president of Turkey is
        Ilham Aliyev"), which the word-level grounding keeps (docs/quality.md). So the plain reply decides; it is
        stopped as soon as a sentence passes, and is not shown.
        """
        if not self._shows_evidence(run.kind):
            return
        self.check_tokens(run.standalone)
        run.timings["warm_s"] = run.timings.get("warm_s", 0.0) + self.warm_for(run)  # the article's state, as ``write``
        t = time.perf_counter()
        claims: list[Claim] = []
        raw = ""
        pieces = self.generate(run.kind, run.passages, run.standalone)
        grounded = ground_stream(pieces, run.standalone, run.kind, run.passages, run.vocab, claims)
        try:
            for event, value in grounded:
                if event == "token":
                    raw += value
                elif value.kept:
                    break
        finally:
            grounded.close()
            pieces.close()
        signals = checks.answer_signals(run.standalone, run.kind, raw, claims)
        run.evidence = self._failed(signals, checks.AFTER) is None
        run.timings["gate_s"] = run.since(t)

    def fall_back(self, run: Run) -> Iterator[tuple[str, object]]:
        """An answer written from the shown sentences that fails its checks is written again as before, so the
        sentences never cost an answer the plain reply would have given."""
        if not (run.evidence and self._failed(run.signals, checks.AFTER)):
            return
        run.evidence, run.claims, run.raw = False, [], ""
        for name in checks.AFTER:
            run.signals.pop(name, None)
        yield from self.write(run)

    def write(self, run: Run) -> Iterator[tuple[str, object]]:
        """The model writes; each finished sentence is grounded at once and streamed when it is kept."""
        run.timings["warm_s"] = run.timings.get("warm_s", 0.0) + self.warm_for(run)
        self.check_tokens(run.standalone)
        t = time.perf_counter()
        pieces = self.generate(run.kind, run.passages, run.standalone, keep=self._keep_key(run), evidence=run.evidence)
        for event, value in ground_stream(pieces, run.standalone, run.kind, run.passages, run.vocab, run.claims):
            if event == "token":
                run.timings.setdefault("first_token_s", run.since(run.t0))
                run.raw += value
                if run.reason is None:
                    yield "token", value
            elif run.reason is None and value.kept:
                run.timings.setdefault("first_sentence_s", run.since(run.t0))
                yield "sentence", self.compose(run.kept, run.standalone, dict(run.timings))
        run.timings["generate_s"] = run.since(t)
        run.signals.update(checks.answer_signals(run.standalone, run.kind, run.raw, run.claims))

    def retry(self, run: Run) -> None:
        """A small model often misses a fact in the whole article yet finds it in the two passages retrieval
        ranks first; every sentence it writes then is grounded the same way."""
        narrow = self.narrow(run)
        wanted = "retry" not in self.settings.disabled and self.settings.retry_k > 0
        if not (wanted and self._failed(run.signals, checks.RETRYABLE) and len(narrow) < len(run.passages)):
            return
        t = time.perf_counter()
        run.claims = []
        reply = self.generate(run.kind, narrow, run.standalone, keep=self._keep_key(run), evidence=run.evidence)
        run.raw = "".join(reply)
        for _ in ground_stream(iter([run.raw]), run.standalone, run.kind, narrow, run.vocab, run.claims):
            pass
        run.timings["retry_s"] = run.since(t)
        run.signals.update(checks.answer_signals(run.standalone, run.kind, run.raw, run.claims))
        run.decision.retried = True

    def restate(self, run: Run) -> None:
        """A fact found as a phrase ("Deputy Prime Minister Samir Sharifov"), said as one sentence.

        The 1.5B model finds facts far better when asked for the shortest phrase (article set: 33/42 answered
        right, against 23/42 when asked for a sentence), so the phrase decides, and the model is then asked, in
        the same conversation, to say it as a sentence. The sentence is kept only when it is grounded and still
        holds every word of the phrase; otherwise the answer stays the phrase.
        """
        if not (run.kind.name == "fact" and self._answering(run) and self.settings.fact_sentences):
            return
        t = time.perf_counter()
        passages = self.narrow(run) if run.decision.retried else run.passages
        short = " ".join(c.text.rstrip(".") for c in run.kept)
        run.decision.phrase = short
        inputs = {
            "context": self.format_context(passages), "question": run.standalone, "reply": run.raw.strip(),
            "instruction": self.prompts.instruction(SPECS["fact"]),
            "evidence": self.evidence(passages, run.standalone) if run.evidence else "",  # the answer turn, as it was
        }  # fmt: skip
        chain = self.prompts.restate_chain(
            self.chat, SPECS["explain"].max_tokens, resume=self._keep_key(run), first=self._first(run.kind)
        )
        said = split_sentences(clean_reply(chain.invoke(inputs)))
        if said:
            claim = ground(plain(said[0]), run.standalone, statements_of(passages), run.vocab, max_cites=3)
            wanted = {stem(w) for w in content_words(short)}
            said_all = wanted <= {stem(w) for w in content_words(claim.text)} and numbers(short) <= numbers(claim.text)
            if claim.kept and said_all:
                run.claims = [claim]
        run.timings["restate_s"] = run.since(t)

    def verify(self, run: Run) -> None:
        """Ask again over the cited sentences alone; abstain if the model then finds no answer there.

        Over the whole article the 1.5B model grabs a name near the question's words whatever its role
        ("Who is the prime minister?" -> the *Deputy* Prime Minister) or answers a question with one word
        swapped ("How quickly is the sea level dropping?" where it is rising). Over one sentence it reads
        more closely and declines those. The second reply only decides whether to answer: the first answer is
        kept. Off by default (``ASSISTANT_VERIFY``): it trades paraphrased questions for unanswerable ones and
        costs one more model call (docs/quality.md).
        """
        support = [s for c in run.kept for s in c.support]
        if not (support and self.settings.verify and (self._answering(run) or self.settings.check_all)):
            return
        t = time.perf_counter()
        inputs = {
            "context": " ".join(s.text for s in support),
            "question": run.standalone,
            "instruction": self.prompts.instruction(SPECS["fact"]),
            "evidence": "",
        }
        reply = self.prompts.answer_chain(self.chat, SPECS["fact"].max_tokens).invoke(inputs)
        run.decision.verify_raw = reply
        declined = bool(DECLINE.search(reply)) or not reply.strip()
        run.signals["verified"] = checks.UNVERIFIED if declined else None
        run.timings["verify_s"] = run.since(t)

    def decide(self, run: Run) -> None:
        """The outcome (``outcomes.choose``): answered, or, when a signal failed, the article's closest sentences
        quoted if the fitted quote model finds them close enough, else declined."""
        d = run.decision
        d.raw, d.claims = run.raw, run.claims
        probability = None
        if run.reason is not None and not any(run.signals.get(n) for n in outcomes.NEVER_QUOTED):
            model = self.quote_model
            scored = self.ranker.closest(run.standalone, run.passages, model.k, model.lexical_weight)
            run.closest = outcomes.Closest([s for s, _ in scored], [sim for _, sim in scored])
            d.quote_features = outcomes.features(run.standalone, run.closest, run.vocab)
            probability = round(self.quote_model.probability(d.quote_features), 4) if scored else None
            d.quote_probability = probability
        d.outcome = outcomes.choose(run.signals, run.reason, probability, self.quote_model.threshold)
        if run.reason is not None:
            d.reasons.append(run.reason)

    def finish(self, run: Run) -> Iterator[tuple[str, object]]:
        """The decision, then the answer: cited sentences, the closest sentences quoted, the open-question reply,
        or a decline."""
        run.timings["total_s"] = run.since(run.t0)
        d = run.decision
        yield "decision", d
        if d.outcome == outcomes.ANSWERED and run.structural is not None:
            yield "answer", structure_answer(*run.structural, self.source_text, run.timings, self.model)
        elif d.outcome == outcomes.ANSWERED:
            yield "answer", self.compose(run.kept, run.standalone, run.timings, d.phrase)
        elif d.outcome == outcomes.QUOTED:
            yield "answer", quoted_answer(run.closest.sentences, self.source_text, run.timings, self.model)
        elif run.reason == checks.OPEN and run.raised is not None:
            yield "answer", raised_answer(run.raised, self.source_text, run.timings, self.model)
        else:
            yield "answer", abstention(run.timings, self.model)

    # -- the model -------------------------------------------------------------------------------------
    @property
    def chat(self):
        with self._lock:
            if self._chat is None:
                self._chat = llm_mod.chat_model(self.settings)
        return self._chat

    @property
    def model(self) -> str:
        return llm_mod.model_label(self.settings)

    def warm(self, head: str = "", source: str | None = None) -> str:
        """Load the model and evaluate (or restore from disk) the fixed prompt prefix, before users arrive.

        ``head``: the fixed start of a kind's question turn (``Prompts.head``), kept with the article so that a
        question reads only its own words. ``source``: the prefix of that one article (the one asked about), kept
        in its own folder of saved states. The claim check's parser (0.3 s) is loaded here too."""
        claims.parser()
        chat = self.chat
        passages = self.index.passages if source is None else [p for p in self.index.passages if p.source == source]
        if not hasattr(chat, "warm") or sum(len(p.text) for p in passages) > self.settings.full_context_chars:
            return "not applicable"
        system = self.prompts.system.format(context=self.format_context(passages))
        return chat.warm(system, self.state_dir(source), head)

    def warm_for(self, run: Run) -> float:
        """Seconds spent putting the prefix of the article(s) the question is asked of in the model."""
        return _timed(lambda: self.warm(source=run.source))

    def state_dir(self, source: str | None = None) -> Path:
        """Saved prompt states: the whole corpus's in ``index/llm-state``, one article's in a folder of its own."""
        base = self.settings.index / "llm-state"
        return base if source is None else base / "articles" / Path(source).stem

    def warm_all(self) -> dict[str, str]:
        """The article's prefix and, for the kinds asked with their instruction first, each kind's, so that no
        reader's first question of a kind waits for its instruction to be read."""
        heads = self.prompts.heads([name for name, kind in SPECS.items() if self._first(kind)])
        return {"": self.warm()} | {head: self.warm(head) for head in heads}

    def answer_chain(self, max_tokens: int | None = None):
        return self.prompts.answer_chain(self.chat, max_tokens)

    def condense_chain(self):
        return self.prompts.condense_chain(self.chat)

    def generate(
        self, kind: Kind, passages: list[Passage], question: str, keep: str | None = None, evidence: bool = False
    ) -> Iterator[str]:
        """The model's reply, piece by piece, under the kind's instruction and length (``evidence``: shown the
        sentences of ``passages`` closest to the question)."""
        inputs = {
            "context": self.format_context(passages), "question": question,
            "instruction": self.prompts.instruction(kind, question),
            "evidence": self.evidence(passages, question) if evidence else "",
        }  # fmt: skip
        first = self._first(kind)
        kept = first and self.full_context() and inputs["context"] == self._whole_context()  # what ``warm`` holds
        head = self.prompts.head(inputs["instruction"]) if kept else None
        chain = self.prompts.answer_chain(self.chat, kind.max_tokens, keep=keep, first=first, head=head)
        yield from chain.stream(inputs)

    def evidence(self, passages: list[Passage], question: str) -> str:
        """The sentences of ``passages`` closest to the question, as the answer turn shows them."""
        return self.prompts.evidence(self.ranker.rank(question, passages, self.settings.evidence_k))

    def _shows_evidence(self, kind: Kind) -> bool:
        """Questions of ``kind`` are shown the closest sentences (not with the instruction first: its kept head)."""
        return self.settings.evidence_for(kind.name) and not self._first(kind)

    def _first(self, kind: Kind) -> bool:
        """The kind's instruction goes before the question, kept evaluated with the article (``instruction_first``)."""
        return self.settings.instruction_first_for(kind.name)

    def _whole_context(self) -> str:
        """Every passage, as the fixed prompt that ``warm`` keeps evaluated holds them."""
        return self.format_context(self.index.passages)

    def _keep_key(self, run: Run) -> str | None:
        """A fact's answer turn is kept for its second turn (``restate``), which then reads only what is new."""
        return run.key if run.kind.name == "fact" and self.settings.fact_sentences else None

    def standalone_question(self, question: str, history: History, context: str) -> str:
        """The follow-up rewritten by the model to stand alone (``conversation.accept_rewrite`` checks it)."""
        if not history:
            return question
        self.check_tokens(question)
        budget = self.settings.n_ctx - len(llm_mod._PREFIX) - self.settings.max_question_tokens
        budget -= max(k.max_tokens for k in SPECS.values()) + 256
        convo = recent_turns(history, self.settings.max_history_turns, budget, self._count_tokens)
        rewritten = self.condense_chain().invoke({"context": context, "history": convo, "question": question})
        return accept_rewrite(question, rewritten, history)

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

    # -- the sources -----------------------------------------------------------------------------------
    def full_context(self) -> bool:
        return sum(len(p.text) for p in self.index.passages) <= self.settings.full_context_chars

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

    def narrow(self, run: Run) -> list[Passage]:
        """The passages retrieval ranks first (``ASSISTANT_RETRY_K``), in article order: the retry's context."""
        return sorted((h.passage for h in run.hits[: self.settings.retry_k]), key=lambda p: p.order)

    def format_context(self, passages: list[Passage]) -> str:
        multi = len({p.source for p in passages}) > 1
        parts, last = [], None
        for p in passages:
            if multi and p.source != last:
                parts.append(f"[{Path(p.source).name}]")
                last = p.source
            parts.append(p.text)
        return "\n\n".join(parts)

    def source_text(self, source: str) -> str:
        if source not in self._texts:
            self._texts[source] = read_text(self.settings.root / source)
        return self._texts[source]

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

    def compose(self, claims: list[Claim], question: str, timings: dict, phrase: str = "") -> Answer:
        return compose(claims, question, self.source_text, timings, self.model, phrase)

    def _failed(self, signals: dict, names: tuple[str, ...]) -> str | None:
        return checks.first_failed(signals, names, self.settings.disabled)

    def _answering(self, run: Run) -> bool:
        """No signal, before or after the model, has failed so far."""
        return run.reason is None and not self._failed(run.signals, checks.AFTER)


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
