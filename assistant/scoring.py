"""Scores of one answer, as pure functions (no I/O): text normalisation, SQuAD EM/F1, citation support (ALCE,
per answer and per sentence) and QuAIL multiple-choice grading. The rules are stated with the metrics built on
them, in ``metrics``' docstring; ``judging`` applies them to one question, ``metrics`` sums them over a run.
"""

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable

from .questions import Question
from .schema import Answer
from .text import STOPWORDS, Vocabulary, content_words, names, numbers, stem

NOT_ENOUGH_INFORMATION = "not enough information"
SENTENCE_COVERAGE = 0.6  # share of a sentence's content words its quotes must hold (paraphrases reword)


# -- text normalisation -----------------------------------------------------------------------------------

_MARKERS_AT_END = re.compile(r"(?:\s*\[\d+\])+\s*\.?\s*$")
_MARKER = re.compile(r"\s*\[\d+\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def remove_markers(text: str) -> str:
    """Every ``[n]`` marker gone, punctuation kept: ``"He led it [1]. She did [2][3]."`` -> ``"He led it. She did."``

    (answer sentences end in their own markers, so they sit inside the text, not only at its end)."""
    return _MARKER.sub("", text).strip()


def strip_markers(text: str) -> str:
    """``"Deputy Prime Minister Samir Sharifov [1]."`` -> ``"Deputy Prime Minister Samir Sharifov"``: the
    trailing markers and final period go (the old phrase answers), and so does every marker inside."""
    return remove_markers(_MARKERS_AT_END.sub("", text))


def prediction(answer: Answer | None) -> str:
    """The short answer judged by EM/F1: ``Answer.short`` when given, else the text with its markers stripped
    (answers from before the short form); "" for an abstention (or no answer)."""
    if answer is None or answer.abstained:
        return ""
    return answer.short.strip() or strip_markers(answer.text)


def answer_text(answer: Answer | None) -> str:
    """The full reply as read, every marker removed; "" for an abstention (or no answer)."""
    if answer is None or answer.abstained:
        return ""
    return remove_markers(answer.text)


def fold(text: str) -> str:
    """Case-, apostrophe-, dash- and whitespace-insensitive form for substring checks."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"}))
    return " ".join(text.split()).casefold()


def squad_normalize(s: str) -> str:
    """The official SQuAD normalisation: lowercase, drop punctuation and articles, collapse whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def squad_tokens(s: str) -> list[str]:
    return squad_normalize(s).split() if s else []


def exact_match(pred: str, gold: str) -> int:
    return int(squad_normalize(pred) == squad_normalize(gold))


def f1_score(pred: str, gold: str) -> float:
    """Official SQuAD token F1; when either side is empty, 1 if both are, else 0."""
    gold_toks, pred_toks = squad_tokens(gold), squad_tokens(pred)
    if not gold_toks or not pred_toks:
        return float(gold_toks == pred_toks)
    same = sum((Counter(gold_toks) & Counter(pred_toks)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_toks), same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def squad_scores(pred: str, golds: list[str]) -> tuple[int, float]:
    """(EM, F1), each the maximum over the gold answers; no gold answers means the gold is ""."""
    golds = [g for g in golds if squad_normalize(g)] or [""]
    return max(exact_match(pred, g) for g in golds), max(f1_score(pred, g) for g in golds)


def contains_words(haystack: str, needle: str) -> bool:
    """Whether the SQuAD-normalised needle occurs as whole words in the SQuAD-normalised haystack."""
    n = squad_normalize(needle)
    return bool(n) and f" {n} " in f" {squad_normalize(haystack)} "


# -- answer-level support (ALCE) ---------------------------------------------------------------------------


def _supports(terms: list[str], quotes: list[str]) -> bool:
    if not terms or not quotes:
        return False
    vocab = Vocabulary(" ".join(quotes))
    return all(vocab.has(t, fuzzy=False) for t in terms)


def citation_support(pred: str, quotes: list[str]) -> dict:
    """ALCE-style support of one answer by its cited spans (the rule is in the module docstring)."""
    terms = list(dict.fromkeys(content_words(pred)))
    union = Vocabulary(" ".join(quotes)) if quotes else None
    missing = [t for t in terms if union is None or not union.has(t, fuzzy=False)]
    supported = _supports(terms, quotes)
    relevant = []
    for i, quote in enumerate(quotes):
        rest = quotes[:i] + quotes[i + 1 :]
        relevant.append(supported and (_supports(terms, [quote]) or not _supports(terms, rest)))
    return {"supported": supported, "relevant": relevant, "unsupported_words": missing}


# -- per-sentence support (the rule is in the module docstring) ------------------------------------------


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _sentence_numbers(sentence: str) -> list[str]:
    """The numbers a sentence states; the word "one" is left out ("one of them", "the one who")."""
    return sorted(numbers(re.sub(r"\bone\b", " ", sentence, flags=re.IGNORECASE)))


def _sentence_names(sentence: str) -> list[str]:
    return _unique(w for w in names(sentence) if w.lower() not in STOPWORDS)


def sentence_gaps(sentence: str, quotes: list[str]) -> tuple[bool, list[str]]:
    """(supported, the numbers, names and content words the quotes lack) for one answer sentence.

    Facts (numbers, names) must all be in the quotes; wording only mostly (``SENTENCE_COVERAGE``), since
    answer sentences paraphrase the source.
    """
    terms = _unique(content_words(sentence))
    facts = _sentence_numbers(sentence) + _sentence_names(sentence)
    quotes = [q for q in quotes if q.strip()]
    if not quotes:
        return False, _unique(facts + terms)
    vocab = Vocabulary(" ".join(quotes))
    lost_numbers = [n for n in _sentence_numbers(sentence) if n not in vocab.numbers]
    lost_names = [w for w in _sentence_names(sentence) if not vocab.has(w, fuzzy=False)]
    lost_terms = [t for t in terms if not vocab.has(t, fuzzy=False)]
    enough = bool(terms) and vocab.coverage(terms, fuzzy=False) >= SENTENCE_COVERAGE
    missing = _unique(lost_numbers + lost_names + [t for t in lost_terms if t not in {w.lower() for w in lost_names}])
    return enough and not lost_numbers and not lost_names, missing


def sentence_supported(sentence: str, quotes: list[str]) -> bool:
    return sentence_gaps(sentence, quotes)[0]


def sentence_support(sentence: str, quotes: list[str]) -> dict:
    """ALCE per sentence: is it supported by its own quotes, and which of them are relevant (needed or
    sufficient alone), as for ``citation_support``, with the per-sentence rule."""
    supported, missing = sentence_gaps(sentence, quotes)
    relevant = []
    for i, quote in enumerate(quotes):
        rest = quotes[:i] + quotes[i + 1 :]
        relevant.append(supported and (sentence_supported(sentence, [quote]) or not sentence_supported(sentence, rest)))
    return {"supported": supported, "relevant": relevant, "unsupported_words": missing}


def answer_sentence_support(answer: Answer) -> list[dict]:
    """Every sentence of an answer judged against the quotes of its own markers (unknown markers: no quote)."""
    quote_of = {c.n: c.quote for c in answer.citations}
    out = []
    for s in answer.sentences:
        text = remove_markers(s.text)
        judged = sentence_support(text, [quote_of.get(n, "") for n in s.citations])
        out.append({"text": text, "citations": list(s.citations), **judged})
    return out



# -- QuAIL options ---------------------------------------------------------------------------------------------


def _stems(text: str) -> set[str]:
    return {stem(w) for w in content_words(text)}


def not_enough_information(options: list[str]) -> int | None:
    """The index of the "not enough information" option, the one an abstention picks."""
    return next((i for i, o in enumerate(options) if fold(o).strip(" .") == NOT_ENOUGH_INFORMATION), None)


def choose_option(answer_text: str, options: list[str], abstained: bool = False) -> int | None:
    """The option a free answer picks: the *one* sharing the most distinct content-word stems with it.

    A tie for the most or no shared word picks none (None). An abstention picks "not enough information";
    an answer never does, since answering is the claim that the text does say.
    """
    nei = not_enough_information(options)
    if abstained:
        return nei
    said = _stems(remove_markers(answer_text))
    overlap = {i: len(said & _stems(o)) for i, o in enumerate(options) if i != nei}
    best = max(overlap.values(), default=0)
    winners = [i for i, n in overlap.items() if n == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


def judge_option(q: Question, answer: Answer | None) -> dict:
    """The per-result ``quail`` record: the question type, the chosen and gold option (index and text)."""
    gold = q.options.index(q.gold_option) if q.gold_option in q.options else None
    chosen = None
    if answer is not None:
        chosen = choose_option(answer.text, q.options, abstained=bool(answer.abstained))
    return {
        "type": q.qtype,
        "chosen": chosen,
        "gold": gold,
        "right": chosen is not None and chosen == gold,
        "chosen_option": q.options[chosen] if chosen is not None else None,
        "gold_option": q.gold_option,
    }


def quote_useful(q: Question, quote: str) -> bool:
    """Whether a quote holds what an answerable question asks for (a ``quoted`` reply, or the label the quote
    model is fitted on): a SQuAD gold answer as whole normalised words; for QuAIL, the gold option is the option it
    picks; for a YAML question, an alternative of every ``must_include`` group, else a ``cite`` text."""
    if not q.answerable or not quote.strip():
        return False
    if q.is_quail:
        gold = q.options.index(q.gold_option) if q.gold_option in q.options else None
        return gold is not None and choose_option(quote, q.options) == gold
    if q.answers:
        return any(contains_words(quote, a) for a in q.answers)
    if q.must_include:
        return all(any(fold(alt) in fold(quote) for alt in group) for group in q.must_include)
    return any(fold(c) in fold(quote) for c in q.cite)
