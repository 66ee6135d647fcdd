"""QuAIL multiple-choice sets: loading, grading a free answer against the options, per-type metrics, reports."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from assistant.datasets import is_quail_jsonl, parse_quail_jsonl
from assistant.evaluation import (
    LABELS,
    check_thresholds,
    choose_option,
    compute_metrics,
    eval_command,
    failure_message,
    judge,
    run_sets,
    summarize,
    summary_lines,
    write_reports,
)
from assistant.questions import QuestionSetError
from assistant.questionsets import load_question_set
from assistant.schema import Answer, Citation

from .conftest import ROOT

QUAIL_FILE = ROOT.parent / "shared" / "eval" / "quail_blogs_dev.jsonl"
needs_file = pytest.mark.skipif(not QUAIL_FILE.is_file(), reason="../shared/eval is not beside the checkout")

CONTEXT = "Tom baked bread every morning because his bakery opened at six. Later he sold the bakery to Ann."
OPTIONS = ["He owned a bakery", "not enough information", "He worked in a bank", "He disliked bread"]


def _qa(qid: str, question: str, gold: str, qtype: str, options=OPTIONS, **over) -> dict:
    qa = {"id": qid, "question": question, "options": list(options), "answers": [gold], "type": qtype}
    qa.update(over)
    return qa


def _record(**over) -> dict:
    rec = {
        "id": "b1",
        "title": "The baker",
        "context": CONTEXT,
        "qas": [
            _qa("b1_0", "Why did Tom bake every morning?", "He owned a bakery", "Causality", text_based=False),
            _qa("b1_1", "What was Tom's dog called?", "not enough information", "Unanswerable", is_impossible=True),
        ],
    }
    rec.update(over)
    return rec


def _answer(text: str, abstained: bool = False) -> Answer:
    quotes = [] if abstained else [CONTEXT]
    cites = [Citation(n=i, source="seeds/b.txt", start=0, end=len(q), quote=q) for i, q in enumerate(quotes, 1)]
    return Answer(text=text, citations=cites, abstained=abstained, timings={"total_s": 1.0}, model="fake")


# -- loading ------------------------------------------------------------------------------------------------------


def test_quail_reader():
    text = json.dumps(_record()) + "\n"
    assert is_quail_jsonl(text) and not is_quail_jsonl('{"title": "x", "context": "y", "qas": [{"id": 1}]}')
    qs = parse_quail_jsonl(text, "q.jsonl")
    assert qs.kind == "quail" and qs.contexts == {"b1_The_baker": CONTEXT}
    why, dog = qs.questions
    assert why.options == OPTIONS and why.gold_option == "He owned a bakery" and why.qtype == "Causality"
    assert why.tags == ["quail", "Causality", "b1_The_baker"] and why.context == "b1_The_baker"
    assert why.is_quail and not why.is_squad and why.answerable and why.answers == [] and why.text_based is False
    assert dog.expect_abstain is True and not dog.answerable
    assert [q.id for q in qs.select(tags=["causality"])] == ["b1_0"]


def test_quail_is_detected_by_load_question_set(tmp_path):
    path = tmp_path / "mini.jsonl"
    path.write_text(json.dumps(_record()) + "\n", encoding="utf-8")
    qs = load_question_set(path)
    assert qs.kind == "quail" and qs.name == "mini" and len(qs.sha256) == 64


def test_quail_impossible_defaults_to_the_gold_option():
    qa = _qa("x", "What colour?", "not enough information", "Unanswerable")
    (q,) = parse_quail_jsonl(json.dumps(_record(qas=[qa])), "q.jsonl").questions
    assert q.expect_abstain is True


def test_quail_reader_errors_name_line_and_field():
    bad = [
        _qa("o", "Why?", "He owned a bakery", "Factual", options=["only one"]),
        _qa("g", "Why?", "Something else", "Factual"),
        _qa("t", "Why?", "He owned a bakery", "", is_impossible="no"),
        _qa("o", "Again?", "He owned a bakery", "Factual"),
        _qa("o", "Duplicate id?", "He owned a bakery", "Factual"),
    ]
    text = "\n".join([json.dumps(_record(qas=bad)), "{oops", json.dumps(_record(context=""))])
    with pytest.raises(QuestionSetError) as info:
        parse_quail_jsonl(text, "q.jsonl")
    assert info.value.errors == [
        "q.jsonl:1: article 'The baker' question 'o' field 'options': must be a list of at least two non-empty texts",
        "q.jsonl:1: article 'The baker' question 'g' field 'answers': "
        "must be a list holding exactly one of the options",
        "q.jsonl:1: article 'The baker' question 't' field 'type': must be non-empty text",
        "q.jsonl:1: article 'The baker' question 'o' field 'id': duplicate id (line 1)",
        "q.jsonl:2: line: invalid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        "q.jsonl:3: article 'The baker' field 'context': must be non-empty text",
    ]


@needs_file
def test_shared_quail_file():
    qs = load_question_set(QUAIL_FILE)
    assert qs.kind == "quail" and len(qs.contexts) == 30 and len(qs.questions) == 540
    types = Counter(q.qtype for q in qs.questions)
    assert len(types) == 9 and set(types.values()) == {60}
    assert sum(q.expect_abstain for q in qs.questions) == 60
    assert all(q.expect_abstain == (q.qtype == "Unanswerable") for q in qs.questions)
    assert all(len(q.options) == 4 and q.gold_option in q.options for q in qs.questions)
    assert all(q.tags[:2] == ["quail", q.qtype] and q.context in qs.contexts for q in qs.questions)
    assert len(qs.select(tags=["Causality"])) == 60
    sample = qs.select(sample=30)
    assert len(sample) == 30 and len({q.context for q in sample}) == 30  # every text is covered


@needs_file
def test_shared_squad_file_is_still_squad():
    squad = ROOT.parent / "shared" / "eval" / "squad2_dev_600w.jsonl"
    assert load_question_set(squad).kind == "squad"


# -- grading ------------------------------------------------------------------------------------------------------


def test_choose_option():
    assert choose_option("Tom owned the bakery [1].", OPTIONS) == 0
    assert choose_option("He was working at a bank downtown [1].", OPTIONS) == 2  # stems: working = worked
    assert choose_option("He disliked working [1].", OPTIONS) is None  # a tie: 1 shared word each with 2 and 3
    assert choose_option("It rained [1].", OPTIONS) is None  # no shared word
    assert choose_option("The article does not say.", OPTIONS, abstained=True) == 1
    assert choose_option("There is not enough information [1].", OPTIONS) is None  # an answer never picks it
    assert choose_option("Anything", ["a b", "c d"], abstained=True) is None  # no such option to pick


def test_judge_quail_answers():
    qs = parse_quail_jsonl(json.dumps(_record()), "q.jsonl")
    why, dog = qs.questions
    right = judge(why, _answer("He baked because he owned a bakery [1]."), None, "q")
    assert right["status"] == "PASS" and [c["name"] for c in right["checks"]] == ["answered", "option"]
    assert right["quail"] == {
        "type": "Causality",
        "chosen": 0,
        "gold": 0,
        "right": True,
        "chosen_option": "He owned a bakery",
        "gold_option": "He owned a bakery",
    }
    assert right["squad"] is None and right["expected"]["options"] == OPTIONS
    wrong = judge(why, _answer("He worked in a bank [1]."), None, "q")
    assert wrong["status"] == "FAIL" and wrong["quail"]["chosen"] == 2
    assert wrong["why"] == "the answer picks 'He worked in a bank'; the gold option is 'He owned a bakery'"
    assert "option 0  'He owned a bakery'  gold" in failure_message(wrong)
    assert "option 2  'He worked in a bank'  chosen" in failure_message(wrong)
    tie = judge(why, _answer("He disliked working [1]."), None, "q")
    assert not tie["quail"]["right"] and "picks no single option" in tie["why"]
    declined = judge(why, _answer("The text does not say.", abstained=True), None, "q")
    assert declined["status"] == "FAIL" and declined["quail"]["chosen"] == 1 and not declined["quail"]["right"]
    assert "abstaining picks 'not enough information'" in declined["why"]
    ok_abstain = judge(dog, _answer("The text does not say.", abstained=True), None, "q")
    assert ok_abstain["status"] == "PASS" and ok_abstain["quail"]["right"]
    assert [c["name"] for c in ok_abstain["checks"]] == ["abstain", "option"]
    answered = judge(dog, _answer("Rex [1]."), None, "q")
    assert answered["status"] == "FAIL" and not answered["quail"]["right"]
    error = judge(why, None, None, "q", error="boom")
    assert error["status"] == "ERROR" and error["quail"]["right"] is False


# -- metrics and reports --------------------------------------------------------------------------------------


def _quail_results() -> list[dict]:
    qas = [
        _qa("f1", "What did Tom own?", "He owned a bakery", "Factual"),
        _qa("f2", "Where did Tom work?", "He owned a bakery", "Factual"),
        _qa("c1", "Why did he bake?", "He owned a bakery", "Causality"),
        _qa("b1", "What did Tom think?", "He disliked bread", "Belief_states"),
        _qa("u1", "Dog?", "not enough information", "Unanswerable"),
        _qa("u2", "Cat?", "not enough information", "Unanswerable"),
    ]
    f1, f2, c1, b1, u1, u2 = parse_quail_jsonl(json.dumps(_record(qas=qas)), "q.jsonl").questions
    return [
        judge(f1, _answer("He owned a bakery [1]."), None, "q"),
        judge(f2, _answer("In a bank [1]."), None, "q"),
        judge(c1, _answer("Because he owned the bakery [1]."), None, "q"),
        judge(b1, _answer("Not said.", abstained=True), None, "q"),
        judge(u1, _answer("Not said.", abstained=True), None, "q"),
        judge(u2, _answer("A cat [1]."), None, "q"),
    ]


def test_quail_metrics_per_type():
    block = compute_metrics(_quail_results())
    m, f = block["metrics"], block["fractions"]
    assert m["quail_accuracy"] == pytest.approx(3 / 6) and f["quail_accuracy"] == [3, 6]
    assert f["quail_factual_accuracy"] == [1, 2] and f["quail_causality_accuracy"] == [1, 1]
    assert f["quail_belief_states_accuracy"] == [0, 1] and f["quail_unanswerable_accuracy"] == [1, 2]
    assert f["quail_text_based_accuracy"] == [2, 3]  # Factual and Causality
    assert f["quail_unanswerable_declined"] == [1, 2]
    assert m["quail_temporal_order_accuracy"] is None and f["quail_temporal_order_accuracy"] == [0, 0]
    assert block["counts"]["quail"] == 6
    assert m["answer_accuracy"] == pytest.approx(2 / 4) and m["squad_f1"] is None


def test_quail_metrics_absent_elsewhere():
    m = compute_metrics([judge(_plain_question(), _answer("12 years [1]."))])["metrics"]
    assert all(m[name] is None for name in LABELS if name.startswith("quail"))


def _plain_question():
    from assistant.questions import Question

    return Question(id="p", question="How long?", must_include=[["12"]])


def test_quail_summary_thresholds_and_reports(tmp_path, settings):
    results = _quail_results()
    summary = summarize(results)
    lines = "\n".join(summary_lines(summary["all"], "Summary"))
    assert "QuAIL accuracy" in lines and "50.0%  (3/6)" in lines
    assert "QuAIL: factual" in lines and "QuAIL: temporal order" not in lines  # unmeasured types are left out
    assert "QuAIL text-based accuracy" in lines and "QuAIL unanswerable declined" in lines
    assert "SQuAD" not in lines
    assert check_thresholds(summary, ["quail_accuracy=0.5"]) == []
    below = check_thresholds(summary, ["q.quail_accuracy=60%"])
    assert below == ["q.quail_accuracy = 50.0% is below the minimum 60.0%"]
    run = {"meta": _meta(), "summary": summary, "results": results}
    paths = write_reports(run, tmp_path)
    data = json.loads(paths["json"].read_text())
    assert data["summary"]["all"]["metrics"]["quail_factual_accuracy"] == 0.5
    assert data["results"][0]["quail"]["right"] is True
    page = paths["html"].read_text()
    assert "QuAIL accuracy" in page and "QuAIL: causality" in page
    assert "<b>He owned a bakery</b> ← chosen" in page


def _meta() -> dict:
    return {
        "started": "now",
        "duration_s": 1.0,
        "sets": [{"name": "q", "path": "q.jsonl", "selected": 6, "questions": 6}],
        "model": "fake",
        "prompts": {"sha256": "0" * 64},
        "git": {"revision": None, "dirty": None},
        "k": 4,
        "command": ["assistant", "eval"],
        "settings": {},
    }


# -- running without the model --------------------------------------------------------------------------------


class OptionAssistant:
    """Answers every question with the first non-"not enough information" option; records its sources."""

    seen: list[list[str]] = []

    def __init__(self, settings):
        self.sources = sorted(p.read_text(encoding="utf-8") for p in settings.seeds.glob("*.txt"))
        OptionAssistant.seen.append(self.sources)

    def stream(self, question, history=None):
        text = "The article does not say." if "dog" in question.lower() else "He owned a bakery [1]."
        abstained = text.startswith("The article")
        quotes = [] if abstained else [self.sources[0]]
        cites = [Citation(n=1, source="seeds/b.txt", start=0, end=len(q), quote=q) for q in quotes]
        yield "decision", None
        yield "answer", Answer(text=text, citations=cites, abstained=abstained, timings={"total_s": 0.1}, model="f")


def test_run_quail_each_text_is_its_own_source(tmp_path, settings):
    qas = [_qa("b2_0", "What is true of Tom?", "He owned a bakery", "Factual")]
    second = _record(id="b2", title="The banker", context="Ann worked in a bank.", qas=qas)
    path = tmp_path / "mini.jsonl"
    path.write_text(json.dumps(_record()) + "\n" + json.dumps(second) + "\n", encoding="utf-8")
    OptionAssistant.seen.clear()
    run = run_sets([load_question_set(path)], settings, progress=False, make_assistant=OptionAssistant)
    assert OptionAssistant.seen == [[CONTEXT + "\n"], ["Ann worked in a bank.\n"]]
    assert [r["status"] for r in run["results"]] == ["PASS", "PASS", "PASS"]
    assert [r["citations"][0]["source"] for r in run["results"] if r["citations"]] == ["seeds/b.txt"] * 2
    assert run["meta"]["sets"][0]["kind"] == "quail"
    assert run["summary"]["all"]["metrics"]["quail_accuracy"] == 1.0


@needs_file
def test_eval_command_samples_quail(tmp_path, settings):
    lines: list[str] = []

    def echo(msg="", err=False):
        lines.append(str(msg))

    common = dict(echo=echo, progress=False, make_assistant=OptionAssistant)
    out = tmp_path / "out"
    assert eval_command(settings, [QUAIL_FILE], out=out, sample=9, minimums=("quail_accuracy=0",), **common) == 0
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(data["results"]) == 9 and len({r["tags"][2] for r in data["results"]}) == 9  # spread over texts
    assert all(r["quail"] is not None for r in data["results"])
    assert data["meta"]["options"]["sample"] == 9
    assert any(line.strip().startswith("QuAIL accuracy") for line in lines)


@pytest.mark.llm
@needs_file
def test_cli_eval_quail_smoke(tmp_path, monkeypatch):
    """The real engine on four QuAIL texts through the CLI: graded as multiple choice, reported per type."""
    from click.testing import CliRunner

    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_ROOT", str(ROOT))
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["eval", str(QUAIL_FILE), "--sample", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "QuAIL accuracy" in result.output
    data = json.loads((out / "results.json").read_text())
    assert len(data["results"]) == 4 and len({r["tags"][2] for r in data["results"]}) == 4
    for r in data["results"]:
        assert r["quail"]["gold"] is not None and r["timings"]["total_s"] > 0
        assert any(c["name"] == "option" for c in r["checks"])
        for c in r["citations"]:
            assert c["source"].startswith("seeds/") and c["quote"]
