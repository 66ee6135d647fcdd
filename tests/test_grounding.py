"""Question kinds and per-sentence grounding, with a scripted model so each rule is tested on its own.

The same rules run against the real model in tests/questions/reader.yaml; here the reply is fixed so that a
failure points at the grounding code, not at the model.
"""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.answering import Assistant
from assistant.citations import sentences_of
from assistant.grounding import (
    finished_sentences,
    ground,
    open_question,
    split_sentences,
    statements,
    trim_foreign,
)
from assistant.kinds import classify, normalize_chat
from assistant.synthesis import short_form, with_markers
from assistant.text import Vocabulary

from .conftest import ARTICLE


@pytest.fixture(scope="module")
def scripted(settings):
    return Assistant(settings)


def ask(a: Assistant, reply: str, question: str):
    a._chat = FakeListChatModel(responses=[reply, reply])
    return a.answer(question)


@pytest.mark.parametrize(
    "question,kind",
    [
        ("Summarize the article.", "summary"),
        ("summarise pls", "summary"),
        ("What is this article about?", "summary"),
        ("tl;dr?", "summary"),
        ("Why is Azerbaijan interested in Syria?", "explain"),
        ("What's in it for Azerbaijan?", "explain"),
        ("what r they hoping syria gets out of it", "explain"),
        ("How could Baku help Syria's energy sector?", "explain"),
        ("Who is Ahmad Al-Sharaa?", "describe"),
        ("who's sharifov", "describe"),
        ("List the people named in the article.", "list"),
        ("Which countries are mentioned?", "list"),
        ("Is Baku simply following Turkey's line?", "yesno"),
        ("Did Azerbaijan give aid to Syria?", "yesno"),
        ("Who led the Azerbaijani delegation to Damascus?", "fact"),
        ("How long had the embassy been closed?", "fact"),
        ("Where did Aliyev and Al-Sharaa meet?", "fact"),
        ("How does the article wrap up?", "summary"),
        ("What does Azerbaijan stand to gain? Give me a list.", "list"),
        ("What does reopening the embassy tell us about relations between the two?", "explain"),
    ],
)
def test_question_kinds(question, kind):
    assert classify(question).name == kind


def test_chat_spelling_is_normalised():
    assert normalize_chat("what r they hoping syria gets out of it??") == "what are they hoping syria gets out of it?"
    assert normalize_chat("why azerbaijan care abt syria") == "why azerbaijan care about syria"


@pytest.fixture(scope="module")
def article(scripted):
    return scripted.index.passages


def test_a_supported_paraphrase_is_kept_and_cites_its_sentence(article):
    claim = ground(
        "Azerbaijan's expertise in oil and gas could help revive Syria's battered energy sector.",
        "Why is Azerbaijan useful to Syria?",
        statements(article),
        Vocabulary(ARTICLE.read_text(encoding="utf-8")),
    )
    assert claim.kept, claim.reason
    assert any("expertise in oil and gas" in s.text for s in claim.support)


@pytest.mark.parametrize(
    "sentence,why",
    [
        ("Azerbaijan sent 500 tons of aid to Syria.", "number 500"),
        ("Recep Tayyip Erdogan welcomed the Azerbaijani delegation.", "name"),
        ("The article does not say how much aid was sent.", "does not give"),
        ("Azerbaijan is interested in Syria.", "repeats the question"),
    ],
)
def test_unsupported_sentences_are_dropped(article, sentence, why):
    claim = ground(
        sentence, "Why is Azerbaijan interested in Syria?", statements(article), Vocabulary(ARTICLE.read_text())
    )
    assert not claim.kept
    assert why in claim.reason


@pytest.mark.parametrize(
    "sentence,trimmed",
    [
        # an injected word the article never uses, at the end, is cut before the checks
        ("They met at the Antalya Diplomacy Forum banana.", "They met at the Antalya Diplomacy Forum."),
        # cutting would leave "between the" without its object: the sentence stays whole for the support check
        ("It was a sign of warming relations between the two countries.", None),
        # a foreign name is never cut
        ("The delegation met Recep Erdogan.", None),
    ],
)
def test_foreign_words_at_a_sentence_end_are_cut_only_cleanly(sentence, trimmed):
    assert trim_foreign(sentence, Vocabulary(ARTICLE.read_text(encoding="utf-8"))) == (trimmed or sentence)


def test_the_articles_own_questions_never_support_an_answer(article):
    questions = [s for s in sentences_of(article) if s.text.endswith("?")]
    assert len(questions) >= 5
    assert not {s.span.start for s in questions} & {s.span.start for s in statements(article)}
    claim = ground(
        "Other regional players will react.",
        "How will other regional players react?",
        statements(article),
        Vocabulary(ARTICLE.read_text()),
    )
    assert not claim.kept


@pytest.mark.parametrize(
    "question,raised",
    [
        ("How will other countries in the region react?", "how will other regional players react"),
        ("Will this partnership become a long-term alliance?", "long-term alliance"),
        ("Who will follow Azerbaijan's lead?", "Who will follow"),
        ("What's in it for Azerbaijan?", None),
        ("Who led the delegation?", None),
    ],
)
def test_open_questions_of_the_article_are_recognised(article, question, raised):
    found = open_question(question, article)
    if raised is None:
        assert found is None, found.text
    else:
        assert found is not None and raised in found.text


def test_streamed_sentences_are_split_when_finished():
    done, rest = finished_sentences("Azerbaijan reopened its embassy. It also sent aid to Sy")
    assert done == ["Azerbaijan reopened its embassy."]
    assert rest.strip() == "It also sent aid to Sy"
    assert split_sentences("One point. Two points! Three?") == ["One point.", "Two points!", "Three?"]


def test_markers_and_short_form():
    assert with_markers("Sharifov led the delegation.", [1, 2]) == "Sharifov led the delegation [1][2]."
    assert with_markers("Could it?", [3]) == "Could it [3]?"
    assert short_form("Deputy Prime Minister Samir Sharifov led the delegation.", "Who led the delegation?") == (
        "Deputy Prime Minister Samir Sharifov"
    )


def test_each_sentence_carries_its_own_citation_and_a_bad_one_is_dropped(scripted):
    reply = (
        "Azerbaijan's expertise in oil and gas could revive Syria's battered energy sector. "
        "Azerbaijan also sent 300 engineers to Damascus. "
        "Azerbaijan reopened its embassy in Damascus after a 12-year closure."
    )
    ans = ask(scripted, reply, "Why is Azerbaijan betting on Syria?")
    assert not ans.abstained, ans
    assert [len(s.citations) >= 1 for s in ans.sentences] == [True, True]
    assert "300" not in ans.text
    text = ARTICLE.read_text(encoding="utf-8")
    for s in ans.sentences:
        quotes = [c.quote for c in ans.citations if c.n in s.citations]
        assert all(q == text[c.start : c.end] for c in ans.citations for q in [c.quote])
        assert any(w in " ".join(quotes) for w in ("oil and gas", "12-year closure"))
    assert ans.text.endswith("].")


def test_an_answer_with_no_supported_sentence_is_a_decline(scripted):
    ans = ask(scripted, "Azerbaijan sent 300 engineers. Turkey paid for them.", "Why is Azerbaijan betting on Syria?")
    assert ans.abstained
    assert ans.text == "The article does not say."


def test_an_age_read_off_a_duration_is_a_decline(scripted):
    """Seen through the model server: "How old is he?" answered from the embassy's 12-year closure."""
    for reply in ("12 years old", "The delegation to Damascus was 12 years old."):
        ans = ask(scripted, reply, "How old is Samir Sharifov?")
        assert ans.abstained and ans.text == "The article does not say.", ans


@pytest.mark.parametrize(
    "question,answer,evidence,wrong",
    [
        ("How old is he?", "He is 12 years old.", "The embassy reopened after a 12-year closure.", True),
        ("How old was she when she left?", "She was 17.", "Aged 17, she left for Paris.", False),
        ("At what age did he start?", "At 6.", "He was six years old when he started to paint.", False),
        ("How old is the forum?", "It is 5 years old.", "The forum, born in 2021, is 5 years old.", False),
        ("How many ministers?", "Several.", "They met several ministers.", True),
    ],
)
def test_the_kind_of_answer_is_checked_against_what_was_asked(question, answer, evidence, wrong):
    from assistant.checks import wrong_type

    assert (wrong_type(question, answer, evidence) is not None) is wrong


def test_an_open_question_is_answered_as_such_with_the_article_question_cited(scripted):
    ans = ask(scripted, "Everyone will welcome it.", "How will the other regional players react?")
    assert ans.abstained
    assert ans.text == "The article raises this question but does not answer it [1]."
    (c,) = ans.citations
    assert c.quote.endswith("how will other regional players react?")
    assert c.quote == ARTICLE.read_text(encoding="utf-8")[c.start : c.end]


def test_a_reader_question_is_shown_its_closest_sentences_and_a_fact_is_not(scripted, monkeypatch):
    """What the model reads with ``evidence_kinds``: first the turn as before (the gate, which decides whether to
    answer at all), then, between the question and its instruction, the article sentences the embedding model
    ranks closest, as exact text of the article. A fact's turns are unchanged unless named (the default names
    explanations, descriptions and lists), and with the setting empty every turn is as it was."""
    good = "Azerbaijan reopened its embassy in Damascus."
    assert scripted.settings.evidence_for("explain") and not scripted.settings.evidence_for("fact")
    monkeypatch.setattr(scripted, "settings", scripted.settings.model_copy(update={"evidence_kinds": ""}))
    assert _turns(scripted, "What's in it for Azerbaijan?", [good]) == [
        "Question: What's in it for Azerbaijan?\n\n"
        "Answer in one to three sentences that give the reasons the article states, using its own words.\n"
    ]
    monkeypatch.setattr(scripted, "settings", scripted.settings.model_copy(update={"evidence_kinds": "explain,fact"}))
    gate, why = _turns(scripted, "What's in it for Azerbaijan?", [good, good])
    assert "closest to the question" not in gate
    head, _, rest = why.partition("\n\nThe sentences of the article closest to the question:\n")
    listed = [line[2:] for line in rest.split("\n\n")[0].splitlines()]
    assert head == "Question: What's in it for Azerbaijan?" and len(listed) == scripted.settings.evidence_k
    assert all(s in ARTICLE.read_text(encoding="utf-8") for s in listed)
    assert "For Azerbaijan, it’s a chance to expand its influence beyond the South Caucasus." in listed
    assert rest.rstrip().endswith("using its own words.")
    fact = _turns(scripted, "Who led the delegation to Damascus?", [good, good, good])[1]
    assert fact.startswith("Question: Who led the delegation to Damascus?\n\nThe sentences of the article closest")
    monkeypatch.setattr(scripted, "settings", scripted.settings.model_copy(update={"evidence_kinds": "explain"}))
    assert not any("closest" in t for t in _turns(scripted, "Who led the delegation to Damascus?", [good, good]))


def test_the_plain_reply_decides_whether_a_question_shown_sentences_is_answered(scripted, monkeypatch):
    """Shown sentences, the model can string their words into an invented answer; whether to answer is therefore
    decided by the plain reply (the gate), and an answer from the sentences that fails its checks gives way to the
    plain one."""
    monkeypatch.setattr(scripted, "settings", scripted.settings.model_copy(update={"evidence_kinds": "explain"}))
    invented, plain = "Azerbaijan sent 300 engineers to Syria.", "Azerbaijan reopened its embassy in Damascus."
    question = "Why did Azerbaijan send engineers to Syria?"
    turns = _turns(scripted, question, [invented, invented])  # the gate fails: the question is asked as before
    assert len(turns) == 2 and not any("closest" in t for t in turns)
    assert _answer(scripted, question, [invented, invented]).abstained
    turns = _turns(scripted, question, [plain, invented, plain])  # the gate passes, the shown turn fails
    assert ["closest" in t for t in turns] == [False, True, False]
    ans = _answer(scripted, question, [plain, invented, plain])
    assert not ans.abstained and "embassy" in ans.text and "300" not in ans.text


def _run(a: Assistant, question: str, replies: list[str]):
    from langchain_core.callbacks import BaseCallbackHandler

    seen: list[str] = []

    class Prompts(BaseCallbackHandler):
        def on_chat_model_start(self, serialized, messages, **kw):
            seen.append(messages[0][-1].content)

    a._chat = FakeListChatModel(responses=replies, callbacks=[Prompts()])
    return seen, a.answer(question)


def _turns(a: Assistant, question: str, replies: list[str]) -> list[str]:
    """The question turns the model read, in order."""
    return _run(a, question, replies)[0]


def _answer(a: Assistant, question: str, replies: list[str]):
    return _run(a, question, replies)[1]


def test_a_reply_is_split_into_sentences_as_the_article_is():
    """ "William E. | Simon [1]." was two answer sentences; an unfinished "William E." waits for its next word."""
    from assistant.grounding import finished_sentences, split_sentences

    reply = "In 1973, Nixon named William E. Simon as the first Administrator [1]. He was at St. Augustine [2]."
    assert split_sentences(reply) == [
        "In 1973, Nixon named William E. Simon as the first Administrator [1].",
        "He was at St. Augustine [2].",
    ]
    assert finished_sentences("Nixon named William E.") == ([], "Nixon named William E.")


_ELEMENTS = (
    "Oxygen is a chemical element with atomic number 8. It is a member of the chalcogen group on the periodic "
    "table.\n\n"
    "In 1992, 6.1% of students in the east attended private schools. Carbon has 6 protons."
)


@pytest.mark.parametrize(
    "reply,question,kept,cited",
    [
        ("8", "What is the atomic number of oxygen?", True, "atomic number 8"),
        ("6.1%", "In 1992, what percentage of students in the east attended private schools?", True, "6.1%"),
        ("9", "What is the atomic number of oxygen?", False, None),  # no sentence holds it
        ("6", "What is the atomic number of oxygen?", False, None),  # carbon's protons, not oxygen's number
        ("Yes.", "Is oxygen an element?", False, None),  # still nothing to check
    ],
)
def test_a_bare_number_is_checked_as_a_number_not_dropped_for_having_no_words(reply, question, kept, cited):
    """SQuAD calibration: "8", "6.1%", "5.3%" were dropped as "no content words" although the sentence beside the
    question states them; a bare number is now cited where it stands, and the claim check pairs it with what the
    question counts."""
    from assistant.documents import Document, split_passages

    passages = split_passages(Document("elements.txt", None, _ELEMENTS))
    claim = ground(reply, question, statements(passages), Vocabulary(_ELEMENTS))
    assert claim.kept is kept, claim.reason
    if cited:
        assert any(cited in s.text for s in claim.support)
