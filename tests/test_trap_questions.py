"""Trap questions on the seed article (tests/questions/traps.yaml), one test per question id: built from the
article's own words, answered by none of its sentences, so every one must be declined (a quote of the closest
sentences counts as declined: it is an abstention). A question marked ``known_failure: <reason>`` must still fail
(strict xfail), so a fix is noticed and the mark removed. Never delete or soften a question to make this green.
"""

from __future__ import annotations

from collections import Counter

import pytest

from assistant.evaluation import failure_message, run_question
from assistant.questionsets import load_question_set
from assistant.text import content_words

from .conftest import ARTICLE, ROOT

QSET = load_question_set(ROOT / "tests" / "questions" / "traps.yaml")
KINDS = {"role": 8, "number": 8, "premise": 8, "followup": 6}


def _params():
    for q in QSET.questions:
        marks = [pytest.mark.llm]
        if q.known_failure:
            marks.append(pytest.mark.xfail(strict=True, reason=q.known_failure))
        yield pytest.param(q, id=q.id, marks=marks)


def test_the_set_is_forty_traps_of_four_kinds_all_to_decline():
    tags = Counter(t for q in QSET.questions for t in q.tags)
    assert len(QSET.questions) >= 40 and set(tags) == set(KINDS)
    assert all(tags[k] >= n for k, n in KINDS.items()), tags
    assert all(q.expect_abstain for q in QSET.questions)
    assert all(q.history for q in QSET.questions if "followup" in q.tags)


def test_the_traps_are_built_from_the_articles_words():
    """Most content words of each trap (with a follow-up's previous question) occur in the article: it is the
    pairing that is false, not the words."""
    from assistant.text import Vocabulary

    vocab = Vocabulary(ARTICLE.read_text(encoding="utf-8"))
    for q in QSET.questions:
        words = content_words(" ".join([*(user for user, _ in q.history[-1:]), q.question]))
        assert vocab.coverage(words) >= 0.5, (q.id, [w for w in words if not vocab.has(w)])


@pytest.mark.parametrize("question", list(_params()))
def test_trap_question(engine, question):
    result = run_question(engine, question, QSET.name)
    if not result["passed"]:
        pytest.fail(failure_message(result), pytrace=False)
