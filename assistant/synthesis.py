"""The response synthesizer: grounded sentences in, the ``Answer`` a reader sees out.

It numbers the cited article sentences in order of first use, puts each sentence's own markers at its end,
quotes every citation as an exact slice of its file, and keeps a short form of the answer for SQuAD EM/F1.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .citations import Sentence
from .grounding import Claim
from .schema import Answer, AnswerSentence, Citation
from .text import STOPWORDS, content_words, stem, words

RAISED = "The article raises this question but does not answer it"
QUOTE_LEAD = "The article does not answer this in so many words. The closest it says:"


def abstain_text(detail: str = "") -> str:
    return "The article does not say" + (f" {detail}" if detail else "") + "."


def abstention(timings: dict, model: str) -> Answer:
    return Answer(text=abstain_text(), abstained=True, status="declined", timings=timings, model=model)


def compose(
    claims: list[Claim], question: str, source_text: Callable[[str], str], timings: dict, model: str, phrase: str = ""
) -> Answer:
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
    cites = [cite(n, s, source_text) for n, s in enumerate(ordered, start=1)]
    text = " ".join(with_markers(s.text, s.citations) for s in sentences)
    short = phrase or short_form(claims[0].text, question)
    return Answer(text=text, short=short, sentences=sentences, citations=cites, timings=timings, model=model)


def raised_answer(sentence: Sentence, source_text: Callable[[str], str], timings: dict, model: str) -> Answer:
    """"The article raises this question but does not answer it [1]." with the article's question cited."""
    line = AnswerSentence(text=RAISED, citations=[1])
    return Answer(
        text=with_markers(RAISED, [1]), sentences=[line], citations=[cite(1, sentence, source_text)],
        abstained=True, status="declined", timings=timings, model=model,
    )  # fmt: skip


def quoted_answer(sentences: list[Sentence], source_text: Callable[[str], str], timings: dict, model: str) -> Answer:
    """The article's own sentences, verbatim and cited, under a line that says they are not an answer as such:
    'The article does not answer this in so many words. The closest it says: "…" [1] "…" [2]'."""
    ordered = sorted(sentences, key=lambda s: (s.source, s.span.start))
    lines = [AnswerSentence(text=s.text, citations=[n]) for n, s in enumerate(ordered, start=1)]
    text = " ".join([QUOTE_LEAD, *(f"\u201c{s.text}\u201d [{n}]" for n, s in enumerate(ordered, start=1))])
    return Answer(
        text=text, sentences=lines, citations=[cite(n, s, source_text) for n, s in enumerate(ordered, start=1)],
        abstained=True, status="quoted", timings=timings, model=model,
    )  # fmt: skip


def structure_answer(
    what: str, sentences: list[Sentence], source_text: Callable[[str], str], timings: dict, model: str
) -> Answer:
    """A part of the text asked for by its place, quoted verbatim: 'The headline is “…” [1].', 'The first
    paragraph says: “…” [1] “…” [2]'."""
    lines = [AnswerSentence(text=s.text, citations=[n]) for n, s in enumerate(sentences, start=1)]
    quotes = " ".join(f"\u201c{s.text}\u201d [{n}]" for n, s in enumerate(sentences, start=1))
    text = f"The headline is {quotes}." if what == "headline" else f"{what[0].upper()}{what[1:]} says: {quotes}"
    return Answer(
        text=text, short=" ".join(s.text for s in sentences), sentences=lines,
        citations=[cite(n, s, source_text) for n, s in enumerate(sentences, start=1)], timings=timings, model=model,
    )  # fmt: skip


def cite(n: int, sentence: Sentence, source_text: Callable[[str], str]) -> Citation:
    """Citation ``n``: the sentence's span and its quote, an exact slice of the file."""
    start, end = sentence.span.start, sentence.span.end
    return Citation(n=n, source=sentence.source, start=start, end=end, quote=source_text(sentence.source)[start:end])


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
