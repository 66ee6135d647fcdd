"""``assistant calibrate``: fit the quote model (``outcomes.QuoteModel``) on calibration data, and only on it.

Every question of the calibration files becomes one example: the ``QUOTE_K`` article sentences closest to it (as
answering finds them: ``retrieval.SentenceRanker`` over the text's passages, by meaning plus a weight of word overlap,
the weight chosen first as the one whose quotes hold the answer most often), their ``outcomes.features``, and the
label "the quote holds the gold answer" (``scoring.quote_useful``: a SQuAD gold answer as whole words; the QuAIL
gold option picked; never for an unanswerable question). A scikit-learn logistic regression on standardised
features is fitted; its threshold is the one that maximises Youden's J (true-positive rate minus false-positive
rate) over out-of-fold probabilities (5 folds grouped by text, so that no text is both fitted and scored). The
evaluation files (SQuAD dev, QuAIL blogs dev, ``tests/questions``) are never read here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .citations import Sentence
from .config import Settings
from .documents import Document, split_passages
from .outcomes import FEATURES, MODEL_FILE, Closest, QuoteModel, features
from .questions import Question
from .questionsets import load_question_set
from .retrieval import SentenceRanker
from .scoring import quote_useful
from .text import Vocabulary

QUOTE_K = 2  # sentences quoted: the two closest held the expected facts for 37 of 46 held-out answerable questions
FOLDS = 5
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(21))  # word overlap's weight beside meaning, tried for quotes


def default_files(settings: Settings) -> list[Path]:
    """The calibration files as ``shared/`` lays them out beside the project."""
    eval_dir = settings.root.parent / "shared" / "eval"
    return [eval_dir / "squad2_calib_600w.jsonl", eval_dir / "quail_calib.jsonl"]


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Asked:
    """One calibration question, its text's vocabulary and every statement of the text with its two scores."""

    question: Question
    vocab: Vocabulary
    scored: list[tuple[Sentence, float, float]]  # (sentence, similarity, share of the question's words)
    file: str
    group: str


def collect(paths: list[Path], settings: Settings, progress: Callable[[str], None] | None = None) -> list[Asked]:
    """Every question of the files with the statements of its text scored against it (one embedding pass)."""
    from .embeddings import get_embeddings

    ranker = SentenceRanker(get_embeddings(settings))
    asked: list[Asked] = []
    for path in paths:
        qset = load_question_set(path)
        by_context: dict[str, list[Question]] = {}
        for q in qset.questions:
            by_context.setdefault(q.context, []).append(q)
        for n, (key, questions) in enumerate(by_context.items(), 1):
            text = qset.contexts[key] + "\n"  # as the evaluation runner stores a text
            passages = split_passages(Document(f"{key}.txt", Path(f"{key}.txt"), text), settings.chunk_size)
            vocab = Vocabulary(text)
            for q in questions:
                asked.append(Asked(q, vocab, ranker.scores(q.question, passages), path.name, f"{path.name}:{key}"))
            if progress:
                progress(f"{path.name}: {n}/{len(by_context)} texts")
    return asked


def _quote(a: Asked, k: int, weight: float) -> list[tuple[Sentence, float]]:
    best = sorted(a.scored, key=lambda x: -(x[1] + weight * x[2]))[:k]
    return [(s, sim) for s, sim, _ in best]


def fit_weight(asked: list[Asked], k: int = QUOTE_K) -> float:
    """The weight of word overlap beside meaning that makes the quoted sentences hold the answer most often
    (over answerable questions; a grid from 0 to 2, the smallest best weight)."""
    answerable = [a for a in asked if a.question.answerable]

    def useful(weight: float) -> int:
        return sum(quote_useful(a.question, " ".join(s.text for s, _ in _quote(a, k, weight))) for a in answerable)

    hits = {w: useful(w) for w in WEIGHTS}
    return max(WEIGHTS, key=lambda w: (hits[w], -w))


def examples(asked: list[Asked], k: int, weight: float) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(features, labels, group of each example (its text), the file each came from)."""
    rows, labels = [], []
    for a in asked:
        best = _quote(a, k, weight)
        closest = Closest([s for s, _ in best], [sim for _, sim in best])
        values = features(a.question.question, closest, a.vocab)
        rows.append([values[f] for f in FEATURES])
        labels.append(int(quote_useful(a.question, " ".join(s.text for s in closest.sentences))))
    return np.array(rows, dtype=float), np.array(labels), [a.group for a in asked], [a.file for a in asked]


def fit(x: np.ndarray, y: np.ndarray, groups: list[str], files: list[str]) -> tuple[QuoteModel, dict]:
    """The fitted model and its cross-validated scores."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score, roc_curve
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def pipeline():
        return make_pipeline(StandardScaler(), LogisticRegression())

    oof = cross_val_predict(pipeline(), x, y, groups=groups, cv=GroupKFold(FOLDS), method="predict_proba")[:, 1]
    fpr, tpr, thresholds = roc_curve(y, oof)
    best = int(np.argmax(tpr - fpr))
    threshold = float(min(thresholds[best], 1.0))
    files_arr = np.array(files)
    scores = {"cv_auc": round(float(roc_auc_score(y, oof)), 4)}
    for name in sorted(set(files)):
        mask = files_arr == name
        if len(set(y[mask])) == 2:
            scores[f"cv_auc[{name}]"] = round(float(roc_auc_score(y[mask], oof[mask])), 4)
    quoted = oof >= threshold
    scores |= {
        "cv_true_positive_rate": round(float(tpr[best]), 4),
        "cv_false_positive_rate": round(float(fpr[best]), 4),
        "cv_quoted_useful": round(float(y[quoted].mean()) if quoted.any() else 0.0, 4),
    }
    final = pipeline().fit(x, y)
    scaler, lr = final[0], final[1]
    model = QuoteModel(
        features=list(FEATURES),
        mean=[round(float(v), 8) for v in scaler.mean_],
        scale=[round(float(v), 8) for v in scaler.scale_],
        coef=[round(float(v), 8) for v in lr.coef_[0]],
        intercept=round(float(lr.intercept_[0]), 8),
        threshold=round(threshold, 6),
    )
    return model, scores


def calibrate(
    paths: list[Path], settings: Settings, out: Path = MODEL_FILE, progress: Callable[[str], None] | None = None
) -> QuoteModel:
    """Fit the quote model on ``paths`` and save it, with the files' checksums, to ``out``."""
    import sklearn

    asked = collect(paths, settings, progress)
    weight = fit_weight(asked, QUOTE_K)
    x, y, groups, files = examples(asked, QUOTE_K, weight)
    model, scores = fit(x, y, groups, files)
    model.k, model.lexical_weight = QUOTE_K, weight
    model.fitted = {
        "data": [{"file": p.name, "sha256": sha256(p)} for p in paths],
        "examples": int(len(y)),
        "useful": int(y.sum()),
        "threshold_rule": f"Youden's J over out-of-fold probabilities, {FOLDS} folds grouped by text",
        "scikit_learn": sklearn.__version__,
        **scores,
    }
    model.save(out)
    return model
