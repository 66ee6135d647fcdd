"""What an answer sentence claims, and whether one cited sentence claims the same.

Grounding asks whether a sentence's words occur in its citations; a small model joins true words into false
claims ("Ahmad Al-Sharaa is Syria's foreign minister": he is the transitional leader, and the minister in the
same sentence is another man). So the pairs a sentence asserts are read from its dependency parse (spaCy's
``en_core_web_sm``) and must stand together, the same way, in one cited sentence:

- a **person and a role** given to them: "X is R", "R X", "X, R", "R, X" (head noun and its modifiers:
  "Deputy Prime Minister", "Syria's transitional leader");
- a **number and what it counts**: the noun it counts and the word that governs them ("stayed … for
  12 years" is not "after a 12-year closure");
- **who did what**: a named doer and what it acted on ("Syria closed its embassy": the cited sentence about the
  embassy's closure names Azerbaijan, not Syria), and who said what (a saying needs a cited sentence that reports
  that person saying something).
- **whose it is**: a named owner and what it owns ("Al-Sharaa's personal message": the cited sentence's message is
  "from President Ilham Aliyev"); a name given to "Whose message …?" is read the same way.

And the answer must answer the question asked: when the question asks for the holder of a role ("Who is
Azerbaijan's ambassador in Damascus?"), a person named in the answer must hold that role, with the question's
modifiers, in a cited sentence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from .nlp import pipeline
from .text import STOPWORDS, normalize, numbers, stem

_PERSON_LINKS = {"compound", "appos", "attr", "nsubj", "nsubjpass"}
_CONTENT = {"NOUN", "VERB", "ADJ", "PROPN"}


@dataclass(frozen=True)
class Role:
    """A person (the last word of their name) given a role (its head noun) with the role's modifiers."""

    person: str
    role: str
    modifiers: frozenset[str]
    owners: frozenset[str] = frozenset()  # the modifiers that say whose role it is: "Syria's", "Syrian"
    title: frozenset[str] = frozenset()  # the words of a capitalised title ("Deputy Prime"): none may be dropped

    def __str__(self) -> str:
        return f"{self.person} as {' '.join(sorted(self.modifiers))} {self.role}".replace("  ", " ")


@dataclass(frozen=True)
class Count:
    """A number, the noun it counts (if any) and the word that governs them."""

    number: str
    noun: str | None
    governor: str | None


@dataclass(frozen=True)
class Action:
    """A named doer (the words of its name), what it acted on (the object's head word) and whether it spoke."""

    doer: frozenset[str]
    pronouns: frozenset[str]  # the subject pronouns that can stand for the doer in a cited sentence
    done_to: str | None
    speech: bool = False
    person: bool = False  # what was acted on is a person ("Larry"), whom a cited sentence may call "his", "him"

    def __str__(self) -> str:
        doer = " ".join(sorted(self.doer)).title()
        return f"{doer} saying something" if self.speech else f"{doer} with {self.done_to}"


@dataclass(frozen=True)
class Ownership:
    """A named owner (the words of its name) and what it owns (the owned noun's head word)."""

    owner: frozenset[str]
    thing: str

    def __str__(self) -> str:
        return f"{' '.join(sorted(self.owner)).title()}'s {self.thing}"


def parser():
    """The English pipeline (``nlp.pipeline``: loaded once, without torch)."""
    return pipeline()


@lru_cache(maxsize=4096)
def _parse(text: str):
    return parser()(normalize_quotes(text))


def normalize_quotes(text: str) -> str:
    return text.replace("’", "'").replace("‘", "'")


def _word(token) -> str:
    return stem(normalize(token.lemma_ if token.pos_ != "PROPN" else token.text))


def _is_person(token) -> bool:
    return token.ent_type_ == "PERSON" and token.pos_ == "PROPN"


def _name_head(token):
    """The last word of a person's name ("Sharaa" in "Ahmad Al-Sharaa")."""
    while token.dep_ == "compound" and _is_person(token.head):
        token = token.head
    return token


def _is_role(token) -> bool:
    """A common noun, or a title spelled as a name ("Minister", "President") that is not itself an entity."""
    if normalize(token.text) in STOPWORDS:
        return False
    return token.pos_ == "NOUN" or (token.pos_ == "PROPN" and not token.ent_type_)


def _modifiers(role) -> frozenset[str]:
    """Adjectives, nouns and owners that narrow a role: "Syria's", "transitional", "Deputy", "Prime"."""
    found = set()
    for child in role.children:
        if child.dep_ in {"amod", "compound", "poss", "nmod"}:
            found.add(_word(child))
        if child.dep_ == "prep" and child.lower_ == "of":  # "leader of Syria" is "Syria's leader"
            found |= {_word(g) for g in child.children if g.dep_ == "pobj" and g.pos_ == "PROPN"}
    return frozenset(found)


def _roles_of(person) -> list:
    """Role nouns attached to a person: title before the name, apposition either way, "X is R", "R is X"."""
    out = [c for c in person.children if c.dep_ == "compound" and _is_role(c)]
    if out:  # "Deputy Prime Minister Samir Sharifov": the title is the compound nearest the name
        out = [max(out, key=lambda t: t.i)]
    linked = [c for c in person.children if c.dep_ == "appos"]
    if person.dep_ == "appos":
        linked.append(person.head)
    if person.dep_ in {"nsubj", "nsubjpass", "attr"} and person.head.lemma_ == "be":
        other = {"nsubj": "attr", "nsubjpass": "attr", "attr": "nsubj"}[person.dep_]
        linked += [c for c in person.head.children if c.dep_ == other]
    if person.dep_ in {"dobj", "nsubjpass", "nsubj"}:  # "named William E. Simon as the first Administrator"
        linked += [g for c in person.head.children if c.lower_ == "as" for g in c.children if g.dep_ == "pobj"]
    return out + [t for t in linked if _is_role(t) and _office(t)]


def _title_words(role, person) -> frozenset[str]:
    """The other words of a capitalised title: "Deputy Prime" of "Deputy Prime Minister Samir Sharifov" or of
    "Sharifov, the Deputy Prime Minister". A description's adjectives ("transitional") are not title words."""
    before = {c for c in person.children if c.dep_ == "compound" and _is_role(c) and c.i < role.i}
    own = {c for c in role.children if c.dep_ == "compound" and c.pos_ == "PROPN" and not c.ent_type_}
    return frozenset(_word(c) for c in before | own)


def roles(text: str) -> set[Role]:
    doc = _parse(text)
    found = set()
    for token in doc:
        if _is_person(token) and _name_head(token).i == token.i:
            for role in _roles_of(token):
                title = _title_words(role, token)
                found.add(Role(_word(token), _word(role), _modifiers(role) | title, _owners(role), title))
    return found


def people(text: str) -> set[str]:
    """The people a sentence names ("Syria's" before a role is an owner, even when tagged a person)."""
    return {_word(t) for t in _parse(text) if _is_person(t) and _name_head(t).i == t.i and t.dep_ != "poss"}


def asked_role(question: str) -> Role | None:
    """The office a question asks the holder of, when it names whose office it is; None otherwise.

    "Who is Azerbaijan's ambassador in Damascus?" -> ambassador {azerbaijan}; "What is the name of Syria's
    foreign minister?" -> minister {syria, foreign}; "Which Syrian minister carried the message?" -> minister
    {syrian}. Only a role narrowed by a name (a country, a body) counts: "Who are the key figures?" asks for
    no office. A question that names a person ("Who is Sharifov?") asks for their role, not a holder.
    """
    doc = _parse(question)
    first = doc[0].lower_ if doc else ""
    role = None
    if first == "which" and doc[0].dep_ == "det":
        role = doc[0].head
    elif first in {"who", "what"}:
        role = next((t for t in doc if t.dep_ in {"nsubj", "attr"} and t.head.lemma_ == "be" and _is_role(t)), None)
        if role is not None and role.lemma_ == "name":  # "the name of Syria's foreign minister"
            role = next((g for c in role.children if c.lower_ == "of" for g in c.children if g.dep_ == "pobj"), None)
        elif first == "what":  # "What was the Azerbaijani delegation?" asks what it was, not who holds it
            role = None
    if role is None or not _is_role(role) or not _narrowed(role):
        return None
    return Role("?", _word(role), _modifiers(role), _owners(role))


def _owners(role) -> frozenset[str]:
    """Whose role it is: "Syria's leader", "Syrian minister", "leader of Syria"."""
    found = {
        _word(c)
        for c in role.children
        if c.dep_ in {"poss", "compound", "amod", "nmod"} and c.ent_type_ and c.pos_ in {"PROPN", "ADJ"}
    }
    for c in role.children:
        if c.dep_ == "prep" and c.lower_ == "of":
            found |= {_word(g) for g in c.children if g.dep_ == "pobj" and g.pos_ == "PROPN"}
    return frozenset(found)


def _narrowed(role) -> bool:
    return bool(_owners(role))


def _office(role) -> bool:
    """A role that is an office, not a description: a capitalised title ("Minister") or one narrowed by a
    name ("Syria's transitional leader"). "The key figures are Sharifov, …" gives no one an office."""
    return (role.pos_ == "PROPN" and not role.ent_type_) or _narrowed(role)


def counts(text: str) -> set[Count]:
    """Each number, and each time said in words ("last month"), with the noun it counts and the content word
    that governs them."""
    doc = _parse(text)
    found = set()
    for token in doc:
        if token.like_num and numbers(token.text):
            noun, governor = _governed(token)
            found.add(Count(next(iter(numbers(token.text))), noun, governor))
    for ent in doc.ents:
        if ent.label_ in {"DATE", "TIME"} and not numbers(ent.text):
            kept = [t for t in ent if t.pos_ in _CONTENT | {"ADV"} and t.lower_ not in STOPWORDS]
            if len(kept) >= 2 or any(t.pos_ == "PROPN" for t in kept):  # "last month", "January"; not "years"
                found.add(Count(" ".join(_word(t) for t in kept), None, _governed(ent.root)[1]))
    return found


def _governed(token) -> tuple[str | None, str | None]:
    """The noun a number counts ("12 years": year) and the first content word above them (stay)."""
    noun, head, steps = None, token, 0
    while head.head.i != head.i and steps < 4:  # spaCy makes a new Token each time: compare indices
        head, steps = head.head, steps + 1
        if head.pos_ not in _CONTENT or head.lemma_ == "be" or normalize(head.text) in STOPWORDS:
            continue
        if noun is None and head.pos_ == "NOUN" and steps == 1:
            noun = _word(head)
            continue
        return noun, _word(head)
    return noun, None


def _alike(a: str, b: str) -> bool:
    """Same stem, or one word's form of the other ("closur"/"close", "azerbaijani"/"azerbaijan"): they share
    at least four letters and four fifths of the shorter."""
    shared = len(os.path.commonprefix([a, b]))
    return a == b or (shared >= 4 and shared >= 0.8 * min(len(a), len(b)))


def _count_stands(count: Count, cited: list[str], given: bool = False) -> bool:
    """One cited sentence holds the number (every word of a time in words) and, unless the question itself
    gave it, what it counts and what governs it, anywhere in that sentence."""
    for text in cited:
        for sent in _parse(text).sents:
            near = {_word(t) for t in sent if t.pos_ in _CONTENT | {"ADV", "NUM"}}
            if not _holds(sent, count.number, near):
                continue
            if given or all(w is None or any(_alike(w, n) for n in near) for w in (count.noun, count.governor)):
                return True
    return False


def _holds(sent, number: str, near: set[str]) -> bool:
    if number[:1].isdigit():
        return any(t.like_num and number in numbers(t.text) for t in sent)
    return all(any(_alike(w, n) for n in near) for w in number.split())


def _role_stands(role: Role, cited: list[str]) -> bool:
    """One cited sentence gives the person the role with its modifiers, and the answer keeps every word of the
    cited title. An owner ("of Azerbaijan") that the cited sentence leaves out may be added, unless it owns
    someone else's role there ("Syria's Deputy Prime Minister" where it says "Syria's transitional leader,
    Ahmad Al-Sharaa")."""
    for text in cited:
        found = roles(text)
        taken = {m for other in found if other.person != role.person for m in other.owners}
        for other in found:
            if other.person != role.person or not _alike(other.role, role.role):
                continue
            if not all(any(_alike(t, m) for m in role.modifiers) for t in other.title):
                continue  # "the prime minister" is not the Deputy Prime Minister
            missing = [m for m in role.modifiers if not any(_alike(m, n) for n in other.modifiers)]
            added = all(m in role.owners and not any(_alike(m, t) for t in taken) for m in missing)
            if not missing or (added and not other.owners):  # "Syria's leader" is no one else's leader
                return True
    return False


_NAMED = {"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART"}
# Verbs that report a saying, and the cited words that show one: "X said ..." needs a cited sentence in which
# someone is reported saying, not only a sentence about X.
_SPEECH = {"say", "tell", "state", "announce", "declare", "claim", "remark", "reply", "insist", "argue", "explain",
           "stress", "emphasize", "promise", "vow", "warn", "add", "note", "write"}  # fmt: skip
_SPEECH_CUES = _SPEECH | {"statement", "speech", "interview", "remark", "comment", "according"}
# A person is "he" or "she", or in a quotation "I", "you" or "we" ("My name is Jim." … "I caught me an 8 lb.
# bass"); a place or a people is "it", "they" or "we". spaCy's small model often tags a person as an organisation
# ("Nikola Tesla"), so anything else may be any of them.
_PERSON = frozenset({"he", "she", "i", "me", "you", "we"})
_PLACE = frozenset({"it", "they", "we"})
_ANY = _PERSON | _PLACE
_OTHERS = {"him", "his", "her"}


def _doer(token) -> tuple[frozenset[str], frozenset[str]] | None:
    """The words of the name a token belongs to, and the pronouns that can stand for it; None when the token is
    no name. A cited sentence names it with any of those words spelled as a name ("Larry" for "Larry Luzor"; not
    "diplomacy" for "the Antalya Diplomacy Forum")."""
    if not _spelled_as_name(token) or (token.ent_type_ and token.ent_type_ not in _NAMED):
        return None  # "embasy" in "how long was the embasy closed?" is tagged a name, but is a misspelled word
    ent = _entity(token)
    span = list(ent) if ent is not None else [token]
    words = frozenset(_word(t) for t in span if _spelled_as_name(t) and normalize(t.text) not in STOPWORDS)
    kind = token.ent_type_
    pronouns = _PERSON if kind == "PERSON" else _PLACE if kind in {"GPE", "LOC", "NORP", "FAC"} else _ANY
    return (words, pronouns) if words else None


def _entity(token):
    """The named-entity span a token belongs to, or None."""
    return next((e for e in token.doc.ents if e.start <= token.i < e.end), None)


def _spelled_as_name(token) -> bool:
    return token.pos_ == "PROPN" and token.text[:1].isupper()


def _object(verb):
    """What a verb acts on: its direct object, or for a passive its subject ("the forum was hosted")."""
    passive = any(c.dep_ == "nsubjpass" for c in verb.children)
    return next((c for c in verb.children if c.dep_ == ("nsubjpass" if passive else "dobj")), None)


def _subject(verb):
    """Who does it: the subject, or for a passive the object of "by" ("was hosted by Turkey")."""
    if any(c.dep_ == "nsubjpass" for c in verb.children):
        return next((g for c in verb.children if c.dep_ == "agent" for g in c.children if g.dep_ == "pobj"), None)
    return next((c for c in verb.children if c.dep_ == "nsubj"), None)


def actions(text: str, question: str = "") -> set[Action]:
    """Who did what to what in a sentence. A phrase with no verb takes the question's: "Economy." for "Which
    ministry does Al-Sharaa run?" says Al-Sharaa runs the economy ministry; "Turkey." for "Who hosted the
    forum?" says Turkey hosted the forum."""
    doc = _parse(text)
    found = set()
    for verb in doc:
        if verb.pos_ != "VERB":
            continue
        doer, done_to = _subject(verb), _object(verb)
        named = _doer(doer) if doer is not None else None
        said = any(c.dep_ in {"ccomp", "parataxis"} for c in verb.children) or done_to is None  # "said (that) …"
        speech = verb.lemma_ in _SPEECH and said  # "Pacioli wrote Summa" is an action on a thing, not a saying
        if named is None or not (speech or (done_to is not None and done_to.pos_ in {"NOUN", "PROPN"})):
            continue
        found.add(Action(named[0], named[1], None if speech else _word(done_to), speech))
    if found or not question or any(t.pos_ in {"VERB", "AUX"} for t in doc):
        return found
    return _phrase_action(doc, _parse(question))


def _phrase_action(phrase, question) -> set[Action]:
    """What a phrase answer says: the thing it names stands with what the question names ("Economy." for "Which
    ministry does Al-Sharaa run?"; "Turkey." for "Who hosted the forum?"). The question's parse is not trusted
    for who acts ("run" is read as a noun there), only for which names it gives. A name that only narrows a
    common noun ("the Azerbaijani team", "the Norman castle") describes what is asked about, which the article
    may call otherwise ("a high-level delegation"): it is not paired."""
    head = next((t for t in phrase if t.dep_ == "ROOT"), None)
    if head is not None and head.pos_ == "ADP":  # "In the Damascus talks."
        head = next((c for c in head.children if c.dep_ == "pobj"), None)
    if head is None or head.pos_ not in {"NOUN", "PROPN"}:
        return set()
    named = {n for t in question if not _narrows_a_noun(t) for n in [_doer(t)] if n}
    words = frozenset(w for n, _ in named for w in n) - {_word(head)}
    if not words:
        return set()
    person = head.pos_ == "PROPN" and head.ent_type_ == "PERSON"
    return {Action(words, frozenset().union(*(p for _, p in named)), _word(head), person=person)}


def _narrows_a_noun(token) -> bool:
    ent = _entity(token)
    root = ent.root if ent is not None else token
    return root.dep_ in {"compound", "amod", "poss", "nmod"} and root.head.pos_ == "NOUN" and root.head.dep_ != "ROOT"


def _action_stands(action: Action, cited: list[str]) -> bool:
    """A cited sentence that names what was acted on names the doer too (or a pronoun subject stands for it); a
    saying needs a cited sentence about the doer that reports one.

    What was acted on, when no cited sentence names it, is a paraphrase ("stopped his plans" for "he was
    stopped"): the word checks have judged it, and there is no pairing to compare."""
    about_it = False
    for text in cited:
        for sent in _parse(text).sents:
            near = {_word(t) for t in sent if t.pos_ in _CONTENT | {"NUM"}}
            names_it = not action.speech and any(_alike(action.done_to, n) for n in near)
            about_it = about_it or names_it
            names_it = names_it or (action.person and _stands_for_another(sent))  # "She hated his smoking": Larry
            if not (names_it or action.speech) or not _names_doer(sent, action):
                continue
            if names_it or _reports_saying(sent):
                return True
    return not about_it and not action.speech


def _stands_for_another(sent) -> bool:
    """A pronoun for a person other than the subject ("his", "him", "her"), which may stand for the answer."""
    return any(t.pos_ == "PRON" and t.lower_ in _OTHERS and t.dep_ not in {"nsubj", "nsubjpass"} for t in sent)


def _names_doer(sent, action: Action) -> bool:
    names = {_word(t) for t in sent if t.pos_ == "PROPN" or t.ent_type_}  # "Azerbaijani" names Azerbaijan
    named = any(_alike(d, n) for d in action.doer for n in names)
    return named or any(t.lower_ in action.pronouns and t.dep_ in {"nsubj", "nsubjpass"} for t in sent)


_WH = {"who", "whom", "whose", "what", "which", "when", "where", "why", "how"}


def asked_doer(question: str) -> tuple[str, str] | None:
    """The verb a question asks about and who does it, when the question names the doer ("Who did the Lombards
    encourage?" -> encourage, lombard); None when the doer is what is asked ("Who encouraged the Normans?").

    The small parser often misreads "What did Azerbaijan reopen?" (the name a compound, the verb a noun): after
    "did", "does" or "do", the name before the root is its doer and the root its verb."""
    doc = _parse(question)
    verb = next((t for t in doc if t.dep_ == "ROOT"), None)
    if verb is None or verb.lemma_ in {"be", "do"}:
        return None
    aux = next((c for c in verb.children if c.dep_ == "aux" and c.lemma_ == "do" and c.i < verb.i), None)
    doer = _subject(verb) if verb.pos_ == "VERB" else None
    if doer is None and aux is not None:
        doer = next((c for c in verb.children if c.dep_ == "compound" and aux.i < c.i < verb.i), None)
    if doer is None or doer.pos_ not in {"NOUN", "PROPN"} or any(t.lower_ in _WH for t in doer.subtree):
        return None
    return verb.lemma_.lower(), _word(doer)


def _answers_another_doer(sentence: str, question: str) -> str | None:
    """The answer's doer of the question's verb, when the question's doer is in the answer in another part ("Who
    did the Normans encourage?" -> "The Lombards encouraged Normans"): who did what to whom is swapped. Another
    name alone is no swap: "Azerbaijan could help …" answers "What could Baku help …?"."""
    asked = asked_doer(question)
    if asked is None:
        return None
    doc = _parse(sentence)
    for verb in doc:
        doer = _subject(verb) if verb.lemma_ == asked[0] else None
        if doer is None or doer.pos_ not in {"NOUN", "PROPN"} or _alike(_word(doer), asked[1]):
            continue
        if any(_alike(_word(t), asked[1]) for t in doc if t.i not in {c.i for c in doer.subtree}):
            return _word(doer)
    return None


_OWNING = {"from", "of", "by"}  # "a message from Aliyev", "the leader of Syria", "a novel by Tolstoy"


def ownerships(text: str, question: str = "") -> set[Ownership]:
    """Whose things a sentence says they are ("Al-Sharaa's message"). A name with no verb answering "Whose …?"
    says it owns what the question asks about ("Ahmad Al-Sharaa." for "Whose message did they carry?")."""
    doc = _parse(text)
    found = {
        Ownership(named[0], _word(t.head))
        for t in doc
        if t.dep_ == "poss" and t.head.pos_ == "NOUN"
        for named in [_doer(t)]
        if named
    }
    if found or not question or any(t.pos_ in {"VERB", "AUX"} for t in doc):
        return found
    asked = next((t for t in _parse(question) if t.pos_ != "ADP"), None)  # "(To) whose …?", not a relative "whose"
    whose = asked if asked is not None and asked.lower_ == "whose" and asked.head.pos_ == "NOUN" else None
    head = next((t for t in doc if t.dep_ == "ROOT"), None)
    named = _doer(head) if whose is not None and head is not None else None
    return {Ownership(named[0], _word(whose.head))} if named else found


def _owners_of(noun) -> list[frozenset[str]]:
    """The names a noun belongs to in its own sentence: "Aliyev's message", "a message from Aliyev"."""
    owners = [c for c in noun.children if c.dep_ == "poss"]
    owners += [g for c in noun.children if c.dep_ == "prep" and c.lower_ in _OWNING for g in c.children
               if g.dep_ == "pobj"]  # fmt: skip
    return [named[0] for o in owners for named in [_doer(o)] if named]


def _ownership_stands(ownership: Ownership, cited: list[str]) -> bool:
    """A cited sentence that gives the thing a named owner gives it this one. A thing the cited sentences name
    with no owner, or do not name at all, is a paraphrase the word checks have judged."""
    owned_by_another = False
    for text in cited:
        for noun in _parse(text):
            if noun.pos_ != "NOUN" or not _alike(_word(noun), ownership.thing):
                continue
            owners = _owners_of(noun)
            if any(_alike(a, b) for owner in owners for a in owner for b in ownership.owner):
                return True
            owned_by_another = owned_by_another or bool(owners)
    return not owned_by_another


def _reports_saying(sent) -> bool:
    """A verb of saying, a word for what was said ("statement", "according to"), or quotation marks."""
    cues = {t.lemma_ for t in sent} | {t.lower_ for t in sent}
    return bool(cues & _SPEECH_CUES) or any(q in sent.text for q in "\"“”")


def unpaired(sentence: str, cited: list[str], question: str = "") -> str | None:
    """Why the cited sentences do not pair what ``sentence`` pairs (None when one of them does)."""
    for role in sorted(roles(sentence), key=str):
        if not _role_stands(role, cited):
            return f"no cited sentence calls {role.person.title()} {_role_words(role)}"
    asked = asked_role(question) if question else None
    if asked is not None and not any(_alike(asked.role, p) for p in people(sentence)):  # "who's al sharaa'
        named = sorted(people(sentence) - people(question))  # one must be the holder; others may be context
        if named and not any(_role_stands(Role(p, asked.role, asked.modifiers, asked.owners), cited) for p in named):
            who = " or ".join(p.title() for p in named)
            return f"no cited sentence calls {who} {_role_words(asked)}, which the question asks for"
    # A number the question gives ("What did Bank of America introduce in 1958?") is paired by the question:
    # it need only stand in a cited sentence ("Why did Azerbaijan close its embassy last month?": it does not).
    given = numbers(question) | {c.number for c in counts(question)}
    for count in sorted(_asserted_counts(sentence, question), key=lambda c: (c.number, c.noun or "", c.governor or "")):
        if not _count_stands(count, cited, given=count.number in given):
            what = " ".join(w for w in (count.noun, count.governor) if w)
            return f"no cited sentence puts {count.number} with {what}"
    other = _answers_another_doer(sentence, question) if question else None
    if other is not None:
        return f"it says what {other.title()} did, not what the question asks about"
    for action in sorted(actions(sentence, question), key=str):
        if not _action_stands(action, cited):
            return f"no cited sentence has {action}"
    for ownership in sorted(ownerships(sentence, question), key=str):
        if not _ownership_stands(ownership, cited):
            return f"no cited sentence has {ownership}"
    return None


def _asserted_counts(sentence: str, question: str) -> set[Count]:
    """The counts a sentence asserts. A phrase with no verb ("12 years.") asserts the question's: its number
    goes with the question's main word ("How long did the delegation stay?" -> 12, year, stay)."""
    found = counts(sentence)
    if not question or any(t.pos_ in {"VERB", "AUX"} for t in _parse(sentence)):
        return found
    root = next((t for t in _parse(question) if t.dep_ == "ROOT"), None)
    if root is None or root.pos_ not in {"VERB", "NOUN"} or root.lemma_ in {"be", "do", "have"}:
        return found
    return {Count(c.number, c.noun, c.governor or _word(root)) for c in found}


def _role_words(role: Role) -> str:
    return " ".join([*sorted(role.modifiers), role.role])
