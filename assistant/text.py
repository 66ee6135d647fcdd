"""Word-level text helpers shared by retrieval and the answer checks: tokens, stopwords, numbers, names."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer
from rapidfuzz import fuzz, process

STOPWORDS = set(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off
    on once only or other our ours out over own same she should so some such than that the their theirs them then
    there these they this those through to too under until up very was we were what when where which while who whom
    whose why will with would you your yours yourself also according article text say says said tell told does did
    mentioned mention describe described give many much kind type any one ones s t according per via
    """.split()
)
_STEMMER = snowballstemmer.stemmer("english")
QUESTION_WORDS = {"who", "what", "when", "where", "why", "how", "which", "whom", "whose"}
GENERIC_CAPS = {"the", "a", "an", "it", "he", "she", "they", "yes", "no", "this", "that", "in", "on", "i", "its"}

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "hundred": "100",
}  # fmt: skip


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")
    return text.lower()


def words(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(normalize(text)):
        w = re.sub(r"'s$", "", w)
        out.append(w)
    return out


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and w not in QUESTION_WORDS and len(w) > 1]


def numbers(text: str) -> set[str]:
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    found |= {NUMBER_WORDS[w] for w in words(text) if w in NUMBER_WORDS}
    return found


def names(text: str) -> list[str]:
    """Capitalised words that are not sentence starters or pronouns: the proper names of a text."""
    out = []
    for m in _WORD.finditer(unicodedata.normalize("NFKC", text)):
        w = m.group(0)
        if w[:1].isupper() and w.lower() not in GENERIC_CAPS and w.lower() not in QUESTION_WORDS:
            out.append(re.sub(r"['’]s$", "", w))
    return out


def entities(text: str, skip_first: bool = True) -> list[list[str]]:
    """Runs of capitalised words ("Ahmad Al-Sharaa", "FIFA World Cup"), without the first word of a sentence.

    The first word of a sentence is capitalised whatever it is ("Wher did ...", "Which ..."), so it says
    nothing about names.
    """
    groups: list[list[str]] = []
    current: list[str] = []
    prev_end = -1
    for i, m in enumerate(_WORD.finditer(unicodedata.normalize("NFKC", text))):
        w = re.sub(r"['’]s$", "", m.group(0))
        gap = text[prev_end : m.start()] if prev_end >= 0 else ""
        prev_end = m.end()
        plain = w.lower() in GENERIC_CAPS or w.lower() in QUESTION_WORDS
        starts = i == 0 or bool(re.search(r"[.!?]", gap))  # "What does it gain? Give me a list."
        is_name = not (starts and skip_first) and w[:1].isupper() and not plain
        if is_name and current and gap.strip(" -") == "":
            current.append(w)
        else:
            if current:
                groups.append(current)
            current = [w] if is_name else []
    if current:
        groups.append(current)
    return groups


@lru_cache(maxsize=65536)
def stem(w: str) -> str:
    """The Snowball (Porter 2) English stem: "opportunities" and "opportunity", "regional" and "region" meet."""
    return _STEMMER.stemWord(w)


class Vocabulary:
    """Word forms of a text, for tolerant membership tests (plurals, tenses, small typos)."""

    def __init__(self, text: str):
        self.words = set(words(text))
        self.lower_words = {w for w in _WORD.findall(unicodedata.normalize("NFKC", text)) if w.islower()}
        self.stems = {stem(w) for w in self.words}
        self.numbers = numbers(text)

    def has(self, word: str, fuzzy: bool = True) -> bool:
        w = normalize(word)
        if w in self.words or stem(w) in self.stems:
            return True
        if w.isdigit() or w in NUMBER_WORDS:
            return (NUMBER_WORDS.get(w, w)) in self.numbers
        if fuzzy and len(w) >= 5:  # a small typo: a word of about the same length, >= 84 % alike (Indel ratio)
            near = [v for v in self.words if abs(len(v) - len(w)) <= 2]
            return process.extractOne(w, near, scorer=fuzz.ratio, score_cutoff=84) is not None
        return False

    def mentions(self, name, fuzzy: bool = True) -> bool:
        """A multi-word name counts as mentioned when at least half of its words are (Al-Sharaa for Ahmad Al-Sharaa)."""
        return 2 * sum(self.has(w, fuzzy) for w in name) >= len(name)

    def coverage(self, terms: list[str], fuzzy: bool = True) -> float:
        if not terms:
            return 1.0
        return sum(self.has(t, fuzzy) for t in terms) / len(terms)
