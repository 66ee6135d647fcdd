"""How a question ends, chosen in one place: ``answered``, ``quoted`` or ``declined``.

The pipeline gathers the evidence (the signals of ``checks``, the grounded sentences, the article sentences closest
to the question); ``choose`` decides. A question is *answered* when no signal failed. When one failed, the
written answer is withheld, but the article may still speak to the question in other words: then its sentences
closest to the question are *quoted* verbatim, with their citations, under a line that says the article does not
answer in so many words. A quote cannot be a false claim. Otherwise the question is *declined*.

Whether the closest sentences are close enough to quote is not a hand-set threshold: it is a logistic regression
over the features below, fitted by ``assistant calibrate`` (``calibration``) on the calibration data only (SQuAD 2.0
and QuAIL texts nobody here wrote), with the label "the quoted sentences hold the gold answer", and saved with the
data's checksums in ``assistant/quote_model.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .citations import Sentence
from .text import Vocabulary, content_words, entities

ANSWERED, QUOTED, DECLINED = "answered", "quoted", "declined"
OUTCOMES = (ANSWERED, QUOTED, DECLINED)

# Signals whose failure is never softened into a quote: an instruction smuggled into the question (quoting would
# still be doing its bidding), a subject the sources never name (nothing can be close), and the article's own open
# question (it has its own reply, citing that question).
NEVER_QUOTED = ("injection", "unknown_names", "open_question")

FEATURES = (
    "top_similarity",  # cosine similarity of the closest sentence to the question (MiniLM)
    "second_similarity",  # of the second closest
    "quote_coverage",  # share of the question's content words (stemmed) that the quoted sentences hold
    "quote_names",  # share of the question's names that the quoted sentences hold (1.0 when it has none)
    "article_coverage",  # share of the question's content words the whole source uses (term coverage)
)

MODEL_FILE = Path(__file__).with_name("quote_model.json")


@dataclass
class Closest:
    """The article sentences closest to a question, best first, with their similarities."""

    sentences: list[Sentence] = field(default_factory=list)
    similarities: list[float] = field(default_factory=list)


def features(question: str, closest: Closest, vocab: Vocabulary) -> dict[str, float]:
    """The quote model's inputs for one question: how close the closest sentences are, in meaning and in words."""
    sims = closest.similarities + [0.0, 0.0]
    quoted = Vocabulary(" ".join(s.text for s in closest.sentences))
    terms = content_words(question)
    names = entities(question)
    return {
        "top_similarity": sims[0],
        "second_similarity": sims[1],
        "quote_coverage": quoted.coverage(terms, fuzzy=False) if terms else 0.0,
        "quote_names": sum(quoted.mentions(n) for n in names) / len(names) if names else 1.0,
        "article_coverage": vocab.coverage(terms) if terms else 0.0,
    }


@dataclass
class QuoteModel:
    """A fitted logistic regression, kept as plain numbers so that answering needs no scikit-learn import."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float
    k: int = 2  # sentences quoted
    lexical_weight: float = 0.0  # word overlap's weight beside meaning when ranking the sentences to quote
    fitted: dict = field(default_factory=dict)  # provenance: data files and checksums, sizes, cross-validated scores

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> QuoteModel:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(**data)

    def save(self, path: Path = MODEL_FILE) -> None:
        Path(path).write_text(json.dumps(self.__dict__, indent=2) + "\n", encoding="utf-8")

    def probability(self, values: dict[str, float]) -> float:
        """P(the quoted sentences hold the answer) for one question's features."""
        terms = zip(self.features, self.mean, self.scale, self.coef, strict=True)
        z = self.intercept + sum(c * (values[f] - m) / (s or 1.0) for f, m, s, c in terms)
        return 1.0 / (1.0 + math.exp(-z))

    def close(self, values: dict[str, float]) -> bool:
        return self.probability(values) >= self.threshold


def choose(signals: dict, failed: str | None, quote_probability: float | None, threshold: float) -> str:
    """The outcome: answered when no signal failed; quoted when the failure may be softened and the closest
    sentences are close enough; declined otherwise."""
    if failed is None:
        return ANSWERED
    if any(signals.get(name) for name in NEVER_QUOTED):
        return DECLINED
    if quote_probability is not None and quote_probability >= threshold:
        return QUOTED
    return DECLINED
