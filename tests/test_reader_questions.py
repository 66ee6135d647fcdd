"""The reader question set for the seed article, one test per question id.

Readers ask for explanations, descriptions, lists, summaries and yes/no answers, answered in sentences that
each carry their own citation; questions the article raises but leaves open, absent facts, off-task requests
and injections are declined. The set itself is checked without the model (size, tags, expectations true to
the article); each question is then asked of the real engine. A question marked ``known_failure: <reason>``
must still fail (strict xfail), so a fix is noticed and the mark removed. Never delete or soften a question
to make this green.
"""

from __future__ import annotations

from collections import Counter

import pytest

from assistant.evaluation import failure_message, fold, run_question
from assistant.questionsets import load_question_set

from .conftest import ARTICLE, ROOT

READER_SET = ROOT / "tests" / "questions" / "reader.yaml"
QSET = load_question_set(READER_SET)
# the least number of questions of each tag
MINIMUM = {
    "summary": 6,
    "why": 10,
    "who": 6,
    "list": 6,
    "yesno": 6,
    "fact": 6,
    "slang": 6,
    "followup": 3,
    "open": 4,
    "unanswerable": 8,
    "offtask": 2,
    "injection": 2,
}
TAGS = set(MINIMUM)
DECLINES = {"open", "unanswerable", "offtask", "injection"}


def _params():
    for q in QSET.questions:
        marks = [pytest.mark.llm]
        if q.known_failure:
            marks.append(pytest.mark.xfail(strict=True, reason=q.known_failure))
        yield pytest.param(q, id=q.id, marks=marks)


# -- the set itself ----------------------------------------------------------------------------------------


def test_set_is_for_the_seed_article(settings):
    assert QSET.name == "reader"
    assert QSET.sources == settings.seeds == ARTICLE.parent.resolve()


def test_set_covers_what_the_issue_asks():
    tags = Counter(t for q in QSET.questions for t in q.tags)
    assert len(QSET.questions) >= 60
    assert set(tags) <= TAGS, set(tags) - TAGS
    assert all(tags[t] >= n for t, n in MINIMUM.items()), tags
    abstain = [q for q in QSET.questions if q.expect_abstain]
    assert len(abstain) >= 15
    assert tags["open"] >= 4
    # a question is declined exactly when it carries a decline tag
    for q in QSET.questions:
        assert bool(q.expect_abstain) == bool(DECLINES & set(q.tags)), f"{q.id}: expect_abstain vs tags {q.tags}"
    for q in QSET.questions:
        if q.expect_abstain:
            continue
        assert q.must_include, f"{q.id}: an answerable question needs must_include"
        assert q.cite, f"{q.id}: an answerable question needs a cite"
        assert q.supported is True, f"{q.id}: an answerable question needs supported: true"
    assert all(q.history for q in QSET.questions if "followup" in q.tags)


def test_expectations_are_true_to_the_article():
    article = fold(ARTICLE.read_text(encoding="utf-8"))
    for q in QSET.questions:
        if q.expect_abstain:
            continue
        assert q.cite, f"{q.id}: an answerable question needs a cite"
        assert q.must_include, f"{q.id}: an answerable question needs must_include"
        for c in q.cite:
            assert fold(c) in article, f"{q.id}: cite {c!r} is not in the article"
        for group in q.must_include:
            assert any(fold(a) in article for a in group), f"{q.id}: none of {group} is in the article"


# -- every question through the real engine -------------------------------------------------------------------


@pytest.mark.parametrize("question", list(_params()))
def test_reader_question(engine, question):
    result = run_question(engine, question, QSET.name)
    if not result["passed"]:
        pytest.fail(failure_message(result), pytrace=False)
