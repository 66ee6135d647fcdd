"""The regression-testing feature: question-set validation, judging, metrics, reports and the CLI."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from assistant.datasets import parse_squad_jsonl
from assistant.evaluation import (
    check_thresholds,
    citation_support,
    compare,
    compute_metrics,
    eval_command,
    exact_match,
    f1_score,
    judge,
    parse_threshold,
    prediction,
    remove_markers,
    run_sets,
    sentence_support,
    squad_normalize,
    squad_scores,
    strip_markers,
    summarize,
    write_reports,
)
from assistant.questions import Question, QuestionSetError
from assistant.questionsets import load_question_set, parse_yaml_set
from assistant.schema import Answer, AnswerSentence, AssistantError, Citation

from .conftest import ROOT

SQUAD_FILE = ROOT.parent / "shared" / "eval" / "squad2_dev_600w.jsonl"


def _yaml(text: str):
    return parse_yaml_set(textwrap.dedent(text), "set.yaml")


def _errors(text: str) -> list[str]:
    with pytest.raises(QuestionSetError) as info:
        _yaml(text)
    assert str(info.value).startswith("set.yaml:")
    return info.value.errors


# -- YAML format -------------------------------------------------------------------------------------------


def test_valid_set_is_normalised():
    qs = _yaml(
        """\
        name: demo
        questions:
          - id: 7
            question: How long was the embassy closed?
            tags: fact
            must_include: [["12", twelve], years]
            cite: 12-year closure
            reference: 12 years
          - id: followup
            history:
              - ["Who led it?", "Samir Sharifov [1]."]
            question: Whose message did he carry?
            must_include: Aliyev
            known_failure: the rewrite loses the name
          - id: nope
            question: Who won the 2022 FIFA World Cup?
            expect_abstain: true
        """
    )
    assert qs.name == "demo" and qs.kind == "yaml" and qs.sources is None
    a, b, c = qs.questions
    assert (a.id, a.tags, a.must_include, a.cite, a.reference) == (
        "7",
        ["fact"],
        [["12", "twelve"], ["years"]],
        ["12-year closure"],
        "12 years",
    )
    assert a.line == 3 and a.answerable
    assert b.history == [("Who led it?", "Samir Sharifov [1].")]
    assert b.must_include == [["Aliyev"]] and b.known_failure == "the rewrite loses the name"
    assert c.expect_abstain is True and not c.answerable


def test_documented_example_is_valid():
    import assistant.questionsets as module

    example = module.__doc__.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    qs = parse_yaml_set(textwrap.dedent(example), ROOT / "tests" / "questions" / "example.yaml")
    assert qs.sources == (ROOT / "seeds").resolve()
    (q,) = qs.questions
    assert q.history == [("Who visited Damascus?", "An Azerbaijani delegation [1].")]
    assert q.must_include == [["Sharifov"], ["12", "twelve"]] and q.expect_abstain is False and q.known_failure


def test_plain_list_file_and_default_name(tmp_path):
    path = tmp_path / "mini.yml"
    path.write_text("- id: a\n  question: Who?\n  expect_abstain: true\n", encoding="utf-8")
    qs = load_question_set(path)
    assert qs.name == "mini" and len(qs.questions) == 1 and len(qs.sha256) == 64


def test_bad_field_names_line_and_field():
    errors = _errors(
        """\
        questions:
          - id: ok
            question: Who led the delegation?
            must_include: [Sharifov]
          - id: broken
            question: How long?
            must_include: [[]]
        """
    )
    assert errors == [
        "set.yaml:7: question 'broken' field 'must_include': "
        "group 1 must be a text or a list of alternative texts, none of them empty"
    ]


def test_unknown_field_suggests_the_right_one():
    error, *_ = _errors(
        """\
        questions:
          - id: q1
            question: Who?
            must_includes: [Sharifov]
        """
    )
    assert error.startswith("set.yaml:4: question 'q1' field 'must_includes': unknown question field")
    assert "did you mean 'must_include'" in error


def test_every_problem_is_reported_at_once():
    errors = _errors(
        """\
        questions:
          - id: a
            question: ""
            expect_abstain: yes please
          - question: What?
            cite: x
          - id: a
            question: Again?
            expect_abstain: true
            cite: [text]
          - id: c
            question: No expectation here
          - id: d
            question: Bad history
            history: [[only one]]
            expect_abstain: false
          - just a string
        """
    )
    joined = "\n".join(errors)
    assert "set.yaml:3: question 'a' field 'question': must be non-empty text" in joined
    assert "set.yaml:4: question 'a' field 'expect_abstain': must be true or false" in joined
    assert "set.yaml:5: question #2 field 'id': is missing" in joined
    assert "set.yaml:10: question 'a' field 'cite': cannot be combined with expect_abstain: true" in joined
    assert "set.yaml:11: question 'c' field 'expect_abstain': no expectation" in joined
    assert (
        "set.yaml:15: question 'd' field 'history': turn 1 must be a [user question, assistant answer] pair" in joined
    )
    assert "set.yaml:17: question #6: must be a mapping" in joined


def test_duplicate_ids_and_keys():
    errors = _errors(
        """\
        questions:
          - id: same
            question: One?
            expect_abstain: true
          - id: same
            question: Two?
            question: Three?
            expect_abstain: true
        """
    )
    assert "set.yaml:7: field 'question': appears twice in the same mapping" in errors
    assert "set.yaml:5: question 'same' field 'id': duplicate id (first used on line 2)" in errors


def test_yaml_syntax_error_names_the_line():
    (error,) = _errors("questions:\n  - id: a\n    question: [unclosed\n    cite: x\n")
    assert error.startswith("set.yaml:") and "invalid YAML" in error


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "set.yaml:1: file: must be a mapping with a 'questions' list (or just the list); the file is empty"),
        ("name: x\n", "set.yaml:1: field 'questions': is missing"),
        ("questions: {}\n", "set.yaml:1: field 'questions': must be a list of questions"),
        ("questions: []\nsources: nowhere-at-all\n", "set.yaml:2: field 'sources': folder"),
        ("question: []\n", "did you mean 'questions'"),
        ("questions:\n  - id: no\n    question: Why?\n    expect_abstain: true\n", "put it in quotes"),
    ],
)
def test_set_level_errors(text, expected):
    errors = _errors(text)
    assert any(expected in e for e in errors), errors


def test_supported_expectation():
    qs = _yaml(
        """\
        questions:
          - id: only-supported
            question: Who led the delegation?
            supported: true
          - id: with-others
            question: How long?
            must_include: ["12"]
            supported: false
        """
    )
    a, b = qs.questions
    assert a.supported is True and a.expect_abstain is None and a.answerable  # enough of an expectation
    assert b.supported is False


def test_supported_errors():
    errors = _errors(
        """\
        questions:
          - id: garbage
            question: Who?
            supported: yes-no-garbage
            must_include: [x]
          - id: abstain
            question: Who won?
            expect_abstain: true
            supported: true
          - id: nothing
            question: Who?
            supported: false
          - id: typo
            question: Who?
            suported: true
        """
    )
    joined = "\n".join(errors)
    assert "set.yaml:4: question 'garbage' field 'supported': must be true or false" in joined
    assert "set.yaml:9: question 'abstain' field 'supported': cannot be combined with expect_abstain: true" in joined
    assert "set.yaml:10: question 'nothing' field 'expect_abstain': no expectation" in joined  # false is no check
    assert "question 'typo' field 'suported': unknown question field (did you mean 'supported'?)" in joined


def test_unknown_file_kind(tmp_path):
    path = tmp_path / "set.txt"
    path.write_text("x")
    with pytest.raises(QuestionSetError, match="use .yaml/.yml or SQuAD .jsonl"):
        load_question_set(path)


# -- SQuAD JSONL -------------------------------------------------------------------------------------------


def _squad_line(**over) -> str:
    rec = {
        "title": "Fresno,_California",
        "context": "Fresno is the fifth-largest city in California.",
        "qas": [
            {"id": "a1", "question": "Which city?", "answers": ["Fresno", "Fresno", {"text": "Fresno city"}]},
            {"id": "n1", "question": "Which state capital?", "answers": [], "is_impossible": True},
        ],
    }
    rec.update(over)
    return json.dumps(rec)


def test_squad_reader():
    qs = parse_squad_jsonl(_squad_line() + "\n\n", "x.jsonl")
    assert qs.kind == "squad" and qs.contexts == {
        "Fresno_California": "Fresno is the fifth-largest city in California."
    }
    a, n = qs.questions
    assert a.answers == ["Fresno", "Fresno city"] and not a.expect_abstain and a.context == "Fresno_California"
    assert n.expect_abstain and n.answers == [] and "noans" in n.tags
    assert [q.id for q in qs.select(tags=["NOANS"])] == ["n1"]
    assert [q.id for q in qs.select(limit=1)] == ["a1"]
    assert [q.id for q in qs.select(sample=1)] == ["a1"] and len(qs.select(sample=5)) == 2


def test_squad_reader_errors_name_line_and_field():
    bad_answers = _squad_line(qas=[{"id": "q", "question": "Why?", "answers": [3]}])
    no_answer = _squad_line(qas=[{"id": "q2", "question": "Why?", "answers": [], "is_impossible": False}])
    text = "\n".join([_squad_line(), "{not json", bad_answers, _squad_line(context=""), no_answer])
    with pytest.raises(QuestionSetError) as info:
        parse_squad_jsonl(text, "x.jsonl")
    errors = info.value.errors
    assert errors[0].startswith("x.jsonl:2: line: invalid JSON")
    assert errors[1].startswith("x.jsonl:3: article 'Fresno,_California' question 'q' field 'answers'")
    assert errors[2] == "x.jsonl:4: article 'Fresno,_California' field 'context': must be non-empty text"
    assert errors[3].startswith("x.jsonl:5: article 'Fresno,_California' question 'q2' field 'answers'")


@pytest.mark.skipif(not SQUAD_FILE.is_file(), reason="../shared/eval is not beside the checkout")
def test_shared_squad_file_counts():
    qs = load_question_set(SQUAD_FILE)
    assert len(qs.contexts) == 10
    assert len(qs.questions) == 557
    sample = qs.select(sample=30)
    assert len(sample) == 30 and len({q.context for q in sample}) == 10  # every article is covered
    assert sum(q.expect_abstain for q in qs.questions) == 265


# -- SQuAD normalisation, EM, F1 ------------------------------------------------------------------------------


def test_squad_normalisation_and_scores():
    assert squad_normalize("The  Monarch!") == "monarch"
    assert squad_normalize("An apple, a day; the END.") == "apple day end"
    assert strip_markers("Deputy Prime Minister Samir Sharifov [1][2].") == "Deputy Prime Minister Samir Sharifov"
    assert strip_markers("12 years [1].") == "12 years"
    assert strip_markers("Sharifov led it [1]. He carried a message [2][3].") == "Sharifov led it. He carried a message"
    assert remove_markers("Sharifov led it [1]. He carried a message [2].") == "Sharifov led it. He carried a message."
    assert exact_match("the Monarch", "Monarch") == 1
    assert f1_score("Royal assent from the Monarch", "the Monarch") == pytest.approx(2 * (1 / 4) * 1 / (1 / 4 + 1))
    assert f1_score("", "") == 1.0 and f1_score("x", "") == 0.0 and f1_score("", "x") == 0.0
    assert squad_scores("monarch", ["the King", "Monarch"]) == (1, 1.0)
    assert squad_scores("", []) == (1, 1.0)  # a correct abstention
    assert squad_scores("Fresno", []) == (0, 0.0)


# -- judging ---------------------------------------------------------------------------------------------------

QUOTE = "Just months ago, Azerbaijan reopened its embassy in Damascus after a 12-year closure."
OTHER = "A high-level delegation led by Deputy Prime Minister Samir Sharifov recently visited Damascus."


def _answer(text: str, quotes=(), abstained=False, total=1.0) -> Answer:
    cites = [Citation(n=i, source="seeds/a.txt", start=0, end=len(q), quote=q) for i, q in enumerate(quotes, 1)]
    return Answer(text=text, citations=cites, abstained=abstained, timings={"total_s": total}, model="fake")


def _decision(*texts: str, reasons=()):
    hits = [
        SimpleNamespace(
            passage=SimpleNamespace(source="seeds/a.txt", start=0, end=len(t), text=t), score=0.1, similarity=0.5
        )
        for t in texts
    ]
    return SimpleNamespace(standalone="q", reasons=list(reasons), hits=hits, raw="")


def test_judge_answerable_pass_and_fail():
    q = Question(id="q", question="How long?", must_include=[["12", "twelve"], ["year"]], cite=["12-year closure"])
    ok = judge(q, _answer("12 years [1].", [QUOTE]), _decision(QUOTE), "s")
    assert ok["status"] == "PASS" and ok["why"] == "" and ok["retrieval_hit"] is True
    assert ok["citation_support"] == {"supported": True, "relevant": [True], "unsupported_words": []}
    bad = judge(q, _answer("Twelve months [1].", [OTHER]), _decision(OTHER), "s")
    assert bad["status"] == "FAIL" and bad["retrieval_hit"] is False
    assert bad["why"] == "answer lacks 'year'; no cited span contains '12-year closure'"
    abst = judge(q, _answer("The article does not say.", abstained=True), _decision(reasons=["no support"]))
    assert abst["why"] == "abstained (no support)" and abst["citation_support"] is None


def test_judge_abstention_known_failure_and_error():
    q = Question(id="n", question="Who won?", expect_abstain=True)
    assert judge(q, _answer("The article does not say.", abstained=True))["status"] == "PASS"
    wrong = judge(q, _answer("Argentina [1].", [OTHER]))
    assert wrong["status"] == "FAIL" and wrong["why"] == "expected an abstention, but it answered"
    known = Question(id="k", question="Who won?", expect_abstain=True, known_failure="too hard")
    assert judge(known, _answer("Argentina [1].", [OTHER]))["status"] == "XFAIL"
    assert judge(known, _answer("The article does not say.", abstained=True))["status"] == "XPASS"
    err = judge(q, None, None, "s", error="The question must be text.")
    assert err["status"] == "ERROR" and not err["passed"] and "must be text" in err["why"]


def test_judge_squad_and_reference():
    q = Question(id="s", question="Which city?", answers=["Fresno", "the city of Fresno"], context="Fresno")
    r = judge(q, _answer("Fresno, California [1].", ["Fresno is a city."]), _decision("Fresno is a city."))
    assert r["status"] == "PASS" and r["squad"]["exact"] == 0 and r["squad"]["f1"] == pytest.approx(2 / 3)
    partial = judge(q, _answer("Fresnoville [1].", ["x"]))
    assert partial["status"] == "FAIL"  # whole words only
    noans = Question(id="n", question="?", expect_abstain=True, context="Fresno")
    assert judge(noans, _answer("The article does not say.", abstained=True))["squad"] == {
        "exact": 1,
        "f1": 1.0,
        "has_answer": False,
    }
    ref = Question(id="r", question="Who?", reference="Deputy Prime Minister Samir Sharifov")
    assert judge(ref, _answer("Samir Sharifov [1].", [OTHER]))["status"] == "PASS"  # F1 0.57
    assert judge(ref, _answer("Aliyev [1].", [OTHER]))["status"] == "FAIL"


def test_citation_support_alce_rule():
    both = citation_support("Sharifov reopened the embassy", [OTHER, QUOTE])
    assert both == {"supported": True, "relevant": [True, True], "unsupported_words": []}  # each one is needed
    extra = citation_support("12 years", [QUOTE, OTHER])
    assert extra["supported"] and extra["relevant"] == [True, False]  # the second adds nothing
    either = citation_support("Damascus", [QUOTE, OTHER])
    assert either["relevant"] == [True, True]  # each alone supports it
    none = citation_support("Baku hosted the talks", [QUOTE])
    assert not none["supported"] and none["relevant"] == [False] and "baku" in none["unsupported_words"]
    assert not citation_support("Damascus", [])["supported"]
    assert citation_support("twelve years", [QUOTE])["supported"]  # number words match digits


# -- full-sentence answers: the short form, sentence support, the supported check ----------------------------

LEAD = "Deputy Prime Minister Samir Sharifov led the delegation [1]. It came after a 12-year closure [2]."


def _sentences_answer(*sentences: tuple[str, list[int]], quotes=(QUOTE, OTHER), short="") -> Answer:
    """An answer in the new contract: full sentences with their own markers, and all the citations."""
    text = " ".join(f"{t[:-1]} {''.join(f'[{n}]' for n in c)}." if c else t for t, c in sentences)
    answer = _answer(text, quotes)
    answer.short = short
    answer.sentences = [AnswerSentence(text=t, citations=c) for t, c in sentences]
    return answer


def test_prediction_uses_the_short_form_and_gold_looks_at_the_whole_reply():
    answer = _sentences_answer(
        ("Deputy Prime Minister Samir Sharifov led the delegation.", [2]), short="Samir Sharifov"
    )
    assert prediction(answer) == "Samir Sharifov"
    assert prediction(_answer(LEAD, [OTHER, QUOTE])) == strip_markers(LEAD)  # no short form: today's rule
    q = Question(id="s", question="Who led it?", answers=["Deputy Prime Minister Samir Sharifov"], context="A")
    r = judge(q, answer)
    assert r["status"] == "PASS" and r["squad"]["exact"] == 0 and r["short"] == "Samir Sharifov"
    assert r["squad"]["f1"] == pytest.approx(f1_score("Samir Sharifov", "Deputy Prime Minister Samir Sharifov"))
    mid = Question(id="m", question="Who?", must_include=[["led the delegation. It came"]])
    assert judge(mid, _answer(LEAD, [OTHER, QUOTE]))["status"] == "PASS"  # markers stripped inside too


def test_sentence_support_rule():
    assert sentence_support("Azerbaijan reopened its embassy in Damascus after a 12-year closure.", [QUOTE]) == {
        "supported": True,
        "relevant": [True],
        "unsupported_words": [],
    }
    wrong_number = sentence_support("Azerbaijan reopened its embassy in Damascus after 10 years.", [QUOTE])
    assert not wrong_number["supported"] and wrong_number["unsupported_words"][0] == "10"
    assert not sentence_support("Azerbaijan reopened its embassy in Damascus after ten years.", [QUOTE])["supported"]
    assert sentence_support("The embassy had been closed for twelve years.", [QUOTE])["supported"]  # 3/4 words
    paraphrase = sentence_support("Azerbaijan restored the embassy in Damascus quickly.", [QUOTE])
    assert paraphrase["supported"] and paraphrase["unsupported_words"] == ["restored", "quickly"]  # 3 of 5: 60 %
    too_loose = sentence_support("Azerbaijan restored the mission in Damascus quickly.", [QUOTE])  # 2 of 5
    assert not too_loose["supported"]
    name = sentence_support("Sharifov's delegation visited Baku.", [OTHER])  # 3 of 4 words, but a new name
    assert not name["supported"] and name["unsupported_words"] == ["Baku"]
    assert not sentence_support("Sharifov led the delegation.", [])["supported"]  # no citation
    assert not sentence_support("It did.", [QUOTE])["supported"]  # nothing to check


def test_sentence_support_precision_with_a_redundant_citation():
    extra = sentence_support("Azerbaijan reopened its embassy after a 12-year closure.", [QUOTE, OTHER])
    assert extra["supported"] and extra["relevant"] == [True, False]  # the second quote adds nothing
    both = sentence_support("Samir Sharifov visited Damascus after Azerbaijan reopened its embassy.", [OTHER, QUOTE])
    assert both["supported"] and both["relevant"] == [True, True]  # each one holds a name the other lacks


def test_judge_records_sentence_support_against_own_citations():
    answer = _sentences_answer(
        ("Deputy Prime Minister Samir Sharifov led the delegation.", [2]),
        ("Sharifov reopened the embassy after 12 years.", [2]),  # its facts are in [1], which it does not cite
        ("The embassy reopened after a 12-year closure.", [1, 2]),
    )
    r = judge(Question(id="q", question="Who?", must_include=[["Sharifov"]]), answer)
    assert [s["supported"] for s in r["sentence_support"]] == [True, False, True]
    assert r["sentence_support"][0] == {
        "text": "Deputy Prime Minister Samir Sharifov led the delegation.",
        "citations": [2],
        "supported": True,
        "relevant": [True],
        "unsupported_words": [],
    }
    assert r["sentence_support"][1]["unsupported_words"] == ["12", "reopened", "embassy", "years"]
    assert r["sentence_support"][2]["relevant"] == [True, False]
    assert r["status"] == "PASS"  # no supported expectation: the measure is recorded, not checked
    m = compute_metrics([r, judge(Question(id="n", question="?", expect_abstain=True), _answer("No.", abstained=True))])
    assert m["metrics"]["sentence_support"] == pytest.approx(2 / 3)
    assert m["metrics"]["sentence_citation_recall"] == pytest.approx(2 / 3)
    assert m["fractions"]["sentence_citation_precision"] == [2, 4]  # not: sentence 2's [2], sentence 3's extra [2]
    assert m["counts"]["answer_sentences"] == 3
    old_style = judge(Question(id="x", question="?", must_include=[["12"]]), _answer("12 [1]."))
    assert compute_metrics([old_style])["metrics"]["sentence_support"] is None  # no sentences to measure


def test_supported_check():
    q = Question(id="q", question="Who led it?", supported=True)
    good = _sentences_answer(("Deputy Prime Minister Samir Sharifov led the delegation.", [2]))
    ok = judge(q, good)
    assert ok["status"] == "PASS" and [c["name"] for c in ok["checks"]] == ["answered", "supported"]
    bad = judge(q, _sentences_answer(("Samir Sharifov led it.", [2]), ("He was in Baku for 3 days.", [2])))
    assert bad["status"] == "FAIL"
    detail = "sentence 2 'He was in Baku for 3 days.' is not supported by its citations [2] (lacks 3, Baku, days)"
    assert bad["why"] == detail
    bare = judge(q, _sentences_answer(("Samir Sharifov led it.", [])))
    assert "sentence 1 'Samir Sharifov led it.' is not supported by any citation (it has none)" in bare["why"]
    none = judge(q, _answer("Samir Sharifov [1].", [OTHER]))  # no sentences
    assert none["status"] == "FAIL" and none["why"] == "the answer has no sentences to check against their citations"
    abst = judge(q, _answer("The article does not say.", abstained=True), _decision(reasons=["no support"]))
    assert abst["why"] == "abstained (no support)" and abst["sentence_support"] is None


# -- metrics -----------------------------------------------------------------------------------------------------


def _results():
    yes = Question(id="a", question="How long?", must_include=[["12"]], cite=["12-year"])
    no = Question(id="n", question="Who won?", expect_abstain=True)
    no2 = Question(id="n2", question="Capital?", expect_abstain=True)
    return [
        judge(yes, _answer("12 years [1].", [QUOTE], total=1.0), _decision(QUOTE), "s"),
        judge(
            Question(id="b", question="Who?", must_include=[["Sharifov"]]),
            _answer("Aliyev [1].", [QUOTE], total=2.0),
            None,
            "s",
        ),
        judge(no, _answer("Not said.", abstained=True, total=3.0), None, "s"),
        judge(no2, _answer("Canberra [1].", [OTHER], total=4.0), None, "s"),
        judge(
            Question(id="c", question="Who led?", must_include=[["Sharifov"]]),
            _answer("x", abstained=True, total=10.0),
            None,
            "s",
        ),
    ]


def test_compute_metrics():
    block = compute_metrics(_results())
    m, c = block["metrics"], block["counts"]
    assert c["questions"] == 5 and c["pass"] == 2 and c["fail"] == 3 and c["answerable"] == 3
    assert m["pass_rate"] == pytest.approx(2 / 5)
    assert m["answer_accuracy"] == pytest.approx(1 / 3)
    assert m["abstention_precision"] == pytest.approx(1 / 2)  # abstained on n (right) and c (wrong)
    assert m["abstention_recall"] == pytest.approx(1 / 2)  # should on n and n2
    assert m["citation_recall"] == pytest.approx(1 / 3)  # 12 years yes; Aliyev, Canberra no
    assert m["citation_precision"] == pytest.approx(1 / 3)
    assert m["retrieval_recall_at_k"] == 1.0 and block["fractions"]["retrieval_recall_at_k"] == [1, 1]
    assert m["latency_median_s"] == 3.0 and m["latency_p95_s"] == 10.0
    assert m["squad_f1"] is None and m["reference_f1"] is None


def test_squad_metrics_split_hasans_noans():
    has = Question(id="h", question="?", answers=["Fresno"], context="F")
    no = Question(id="n", question="?", expect_abstain=True, context="F")
    block = compute_metrics(
        [
            judge(has, _answer("Fresno [1].", ["Fresno."])),
            judge(has, _answer("the big city of Fresno [1].", ["Fresno."])),
            judge(no, _answer("Not said.", abstained=True)),
            judge(no, _answer("Fresno [1].", ["Fresno."])),
        ]
    )
    m = block["metrics"]
    assert m["squad_hasans_exact"] == 0.5 and m["squad_hasans_f1"] == pytest.approx((1 + 0.4) / 2)
    assert m["squad_hasans_accuracy"] == 1.0
    assert m["squad_noans_exact"] == 0.5 and m["squad_noans_f1"] == 0.5
    assert m["squad_exact"] == 0.5 and m["squad_f1"] == pytest.approx((1 + 0.4 + 1 + 0) / 4)
    assert block["counts"]["squad_hasans"] == 2 and block["counts"]["squad_noans"] == 2


def test_thresholds():
    summary = summarize(_results())
    assert parse_threshold("article.answer_accuracy=80%") == ("article", "answer_accuracy", 0.8)
    assert check_thresholds(summary, ["pass_rate=0.4"], ["latency_p95_s=10"]) == []
    problems = check_thresholds(summary, ["answer_accuracy=0.5", "s.squad_f1=0.1"], ["latency_median_s=2.5"])
    assert problems == [
        "answer_accuracy = 33.3% is below the minimum 50.0%",
        "s.squad_f1 was not computed (nothing to measure), required 0.1",
        "latency_median_s = 3.00 is above the maximum 2.50",
    ]
    with pytest.raises(AssistantError, match="Unknown metric 'accuracy'"):
        parse_threshold("accuracy=1")
    with pytest.raises(AssistantError, match="not a number"):
        parse_threshold("pass_rate=high")
    with pytest.raises(AssistantError, match="Unknown question set 'nope'"):
        parse_threshold("nope.pass_rate=1", ["s"])


def test_baseline_comparison():
    before = {"meta": {"started": "then"}, "results": _results()}
    before["summary"] = summarize(before["results"])
    after_results = [dict(r) for r in before["results"]]
    after_results[0] = {**after_results[0], "status": "FAIL", "passed": False, "answer": "Ten years [1]."}
    after_results[1] = {**after_results[1], "status": "PASS", "passed": True, "answer": "Sharifov [1]."}
    after_results[2] = {**after_results[2], "status": "XFAIL", "passed": False, "known_failure": "flaky"}
    after_results.append({**after_results[4], "key": "s::new"})
    after = {"results": after_results, "summary": summarize(after_results)}
    cmp = compare(before, after)
    assert [p["key"] for p in cmp["regressions"]] == ["s::a", "s::n"]
    assert cmp["blocking"] == ["s::a"]  # the one now marked known_failure is listed but does not block
    assert cmp["regressions"][0]["before"]["answer"] == "12 years [1]."
    assert cmp["regressions"][0]["after"]["answer"] == "Ten years [1]."
    assert [p["key"] for p in cmp["fixes"]] == ["s::b"] and cmp["new"] == ["s::new"] and cmp["missing"] == []
    assert cmp["metric_deltas"]["pass_rate"] == [pytest.approx(2 / 5), pytest.approx(1 / 6)]
    assert cmp["metric_deltas"]["answer_accuracy"][0] == pytest.approx(1 / 3)


# -- running and reports without the model -------------------------------------------------------------------


class FakeAssistant:
    """Answers from a table; stands in for Assistant in tests that need no model."""

    answers = {
        "How long was the embassy closed?": ("12 years [1].", [QUOTE]),
        "Who led the delegation?": ("Deputy Prime Minister <b>Samir</b> Sharifov [1].", [OTHER]),
    }

    def __init__(self, settings):
        self.settings = settings

    def stream(self, question, history=None):
        text, quotes = self.answers.get(question, ("The article does not say.", []))
        yield "token", text
        yield "decision", _decision(QUOTE, OTHER)
        yield "answer", _answer(text, quotes, abstained=not quotes, total=0.5)


SET_YAML = """\
name: mini
questions:
  - id: embassy
    question: How long was the embassy closed?
    must_include: [["12", twelve]]
    cite: 12-year closure
  - id: leader
    question: Who led the delegation?
    must_include: [[Sharifov]]
    cite: led by Deputy Prime Minister Samir Sharifov
  - id: cup
    question: Who won the 2022 FIFA World Cup?
    tags: [unanswerable]
    expect_abstain: true
  - id: hard
    question: Which ministers did they meet?
    must_include: [[economy]]
    known_failure: a list answer is too long for the model
"""


def test_run_and_reports_with_a_fake_assistant(tmp_path, settings):
    path = tmp_path / "mini.yaml"
    path.write_text(SET_YAML, encoding="utf-8")
    run = run_sets([load_question_set(path)], settings, progress=False, make_assistant=FakeAssistant)
    assert [r["status"] for r in run["results"]] == ["PASS", "PASS", "PASS", "XFAIL"]
    meta = run["meta"]
    assert (
        meta["model"] == "fake" and len(meta["prompts"]["sha256"]) == 64 and "condense.md" in meta["prompts"]["files"]
    )
    assert "revision" in meta["git"] and meta["settings"]["k"] == settings.k and meta["sets"][0]["selected"] == 4
    paths = write_reports(run, tmp_path / "out")
    data = json.loads(paths["json"].read_text())
    assert data["summary"]["all"]["metrics"]["answer_accuracy"] == pytest.approx(2 / 3)
    suite = ET.parse(paths["junit"]).getroot().find("testsuite")
    assert suite.get("tests") == "4" and suite.get("skipped") == "1" and suite.get("failures") == "0"
    page = paths["html"].read_text()
    assert "&lt;b&gt;Samir&lt;/b&gt;" in page and "<b>Samir</b>" not in page  # answers are escaped
    assert "<mark>led by Deputy Prime Minister Samir Sharifov</mark>" in page
    assert "answer accuracy" in page and "<script>" in page
    assert "<link" not in page and "src=" not in page  # self-contained


def test_eval_command_exit_codes(tmp_path, settings, monkeypatch):
    path = tmp_path / "mini.yaml"
    path.write_text(SET_YAML, encoding="utf-8")
    lines: list[str] = []

    def echo(msg="", err=False):
        lines.append(str(msg))

    common = dict(echo=echo, progress=False, make_assistant=FakeAssistant)
    assert eval_command(settings, [path], out=tmp_path / "one", **common) == 0
    assert not (tmp_path / "one" / "results.partial.jsonl").exists()  # removed once results.json is written
    assert any(line.startswith("PASS   embassy") for line in lines)
    assert any("answer accuracy (answerable)" in line and "66.7%" in line for line in lines)
    assert eval_command(settings, [path], out=tmp_path / "two", minimums=("answer_accuracy=0.9",), **common) == 1
    assert any("Threshold not met: answer_accuracy = 66.7% is below the minimum 90.0%" in line for line in lines)
    # A baseline in which 'cup' failed and 'embassy' passed; now the fake answers 'embassy' wrongly.
    base = json.loads((tmp_path / "one" / "results.json").read_text())
    monkeypatch.setitem(FakeAssistant.answers, "How long was the embassy closed?", ("Ten years [1].", [QUOTE]))
    lines.clear()
    base_path = tmp_path / "base.json"
    base_path.write_text(json.dumps(base))
    assert eval_command(settings, [path], out=tmp_path / "three", baseline=base_path, **common) == 1
    text = "\n".join(lines)
    assert "pass→fail mini::embassy" in text and "'12 years [1].'" in text and "'Ten years [1].'" in text
    assert "Regression: 1 question(s) went from pass to fail." in text
    with pytest.raises(AssistantError, match="Unknown metric"):
        eval_command(settings, [path], minimums=("nope=1",), **common)


# -- one real run through the CLI ------------------------------------------------------------------------------


@pytest.mark.llm
@pytest.mark.skipif(not SQUAD_FILE.is_file(), reason="../shared/eval is not beside the checkout")
def test_cli_eval_squad_smoke(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_ROOT", str(ROOT))
    out = tmp_path / "report"
    args = ["eval", str(SQUAD_FILE), "--limit", "4", "--out", str(out), "--ablation"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "SQuAD HasAns F1" in result.output and "Reports:" in result.output
    assert "| without unknown_names |" in result.output and (out / "abstention_curve.png").stat().st_size > 1000
    data = json.loads((out / "results.json").read_text())
    assert len(data["results"]) == 4 and {r["tags"][2] for r in data["results"]} == {"Scottish_Parliament"}
    metrics = data["summary"]["all"]["metrics"]
    for name in ("squad_exact", "squad_f1", "latency_median_s", "latency_p95_s", "pass_rate"):
        assert isinstance(metrics[name], float), name
    assert data["meta"]["model"] and data["meta"]["prompts"]["sha256"]
    for r in data["results"]:
        assert r["timings"]["total_s"] > 0 and r["answer"]
        for c in r["citations"]:
            assert c["source"] == "seeds/Scottish_Parliament.txt"
    suite = ET.parse(out / "junit.xml").getroot()
    assert suite.get("tests") == "4"
    assert "SQuAD F1" in (out / "report.html").read_text()
