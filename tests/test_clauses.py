"""A sentence that runs on past what its citations support keeps its true main clause (``clauses``, ``grounding``)."""

from __future__ import annotations

import pytest

from assistant.clauses import shorter
from assistant.grounding import ground, statements
from assistant.text import Vocabulary

from .conftest import ARTICLE
from .test_grounding import article, ask, scripted  # noqa: F401  (fixtures)

RUN_ON = ("Cultural and educational exchanges can help Syria rebuild its institutions by fostering a sense of unity "
          "and shared values.")  # fmt: skip


@pytest.mark.parametrize(
    "sentence,cuts",
    [
        (RUN_ON, ["Cultural and educational exchanges can help Syria rebuild its institutions."]),
        ("Azerbaijan reopened its embassy in Damascus after a 12-year closure, which signals warming relations.",
         ["Azerbaijan reopened its embassy in Damascus after a 12-year closure.",
          "Azerbaijan reopened its embassy in Damascus."]),
        ("He said the talks went well, and the two sides agreed to meet again in May.",
         ["He said the talks went well, and the two sides agreed to meet again.", "He said the talks went well."]),
        # a list or a noun phrase is never cut into: fewer items would be another claim
        ("Samir Sharifov discussed energy, infrastructure, and education.", []),
        ("Turkey's stance on Assad is complex and multifaceted.", []),
        # a tail that qualifies what comes before is never cut off
        ("The delegation met the president, but only after the ministers refused.", []),
        ("Baku will invest in Syria unless sanctions return.", []),
        # a denied main clause may deny the tail; a participle on a noun is what the noun means (both seen on
        # QuAIL calibration answers)
        ("He didn't leave because of the rain.", []),
        ("The principal disliked the idea of his boys spending a long weekend fishing.", []),
        # no clause to keep
        ("Energy, infrastructure and education.", []),
    ],
)  # fmt: skip
def test_a_sentence_is_cut_only_before_a_trailing_modifier_of_its_main_clause(sentence, cuts):
    assert shorter(sentence) == cuts


def test_the_true_main_clause_of_a_run_on_sentence_is_kept_and_cited(article):  # noqa: F811
    claim = ground(RUN_ON, "How would cultural and educational exchanges help Syria?", statements(article),
                   Vocabulary(ARTICLE.read_text(encoding="utf-8")))  # fmt: skip
    assert claim.kept, claim.reason
    assert claim.text == "Cultural and educational exchanges can help Syria rebuild its institutions."
    assert claim.cut_from == RUN_ON
    assert any("rebuild its institutions" in s.text for s in claim.support)


@pytest.mark.parametrize(
    "sentence",
    [
        "Azerbaijan sent 500 tons of aid to Syria because it wants to rebuild its institutions.",  # false main clause
        "Azerbaijan is interested in Syria because it loves bananas.",  # what is left only repeats the question
    ],
)
def test_a_cut_that_is_still_unsupported_or_says_nothing_is_dropped(article, sentence):  # noqa: F811
    claim = ground(sentence, "Why is Azerbaijan interested in Syria?", statements(article),
                   Vocabulary(ARTICLE.read_text(encoding="utf-8")))  # fmt: skip
    assert not claim.kept
    assert claim.cut_from == ""


def test_an_answer_keeps_the_cut_sentence_with_its_citation(scripted):  # noqa: F811
    ans = ask(scripted, RUN_ON, "How would cultural and educational exchanges help Syria?")
    assert ans.status == "answered", ans
    assert ans.text.startswith("Cultural and educational exchanges can help Syria rebuild its institutions [")
    assert "unity" not in ans.text
