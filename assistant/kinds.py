"""What kind of answer a question asks for: a fact, an explanation, a description, a list, a summary, a yes/no.

The kind picks the instruction the model gets (``prompts/kinds.yaml``), how long it may write, and whether it
is offered "NOT IN ARTICLE" at all: a 1.5B model offered that escape takes it for almost every question that is
not a short lookup, so the reader kinds are asked to answer and the grounding of each sentence decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SLANG = {
    "r": "are", "u": "you", "ur": "your", "abt": "about", "bc": "because", "cuz": "because", "coz": "because",
    "pls": "please", "plz": "please", "thx": "thanks", "w/": "with", "wat": "what", "wut": "what", "y": "why",
    "ppl": "people", "govt": "government", "whats": "what's", "whos": "who's", "hows": "how's", "wheres": "where's",
    "isnt": "isn't", "doesnt": "doesn't", "didnt": "didn't", "arent": "aren't", "wasnt": "wasn't", "im": "I'm",
    "summarise": "summarize",
}  # fmt: skip
_SLANG = re.compile(r"(?<![\w'’])(" + "|".join(re.escape(k) for k in SLANG) + r")(?![\w'’])", re.IGNORECASE)

_SUMMARY = re.compile(
    r"\bsummar(y|i[sz]e)\b|\bsum (it |this |that )?up\b|\bgist\b|\btl;? ?dr\b|\bmain (points?|ideas?|takeaways?)\b"
    r"|\bkey (points?|takeaways?)\b|\boverview\b|\brecap\b|\bin a nutshell\b|\bbrief(ly)?\b.*\b(article|story)\b"
    r"|\bwhat('s| is) (this|the) (article|piece|text|story|post)( all)? about\b"
    r"|\bhow does (the|this) (article|piece|story|text|post) (end|wrap up|conclude|finish|close)\b",
    re.IGNORECASE,
)
_LIST = re.compile(
    r"^(list|name|enumerate)\b|\b(give me|make|in) a list\b|\bas a list\b"
    r"|\b(all|every|each) (the )?\w+ (named|mentioned|listed)\b|^who (are|were) (the|all)\b"
    r"|^(which|what) (\w+ )?\w+s\b.*\b(mentioned|named|listed|discussed|covered|talk about|in the article"
    r"|does the article)\b",
    re.IGNORECASE,
)
_YESNO = re.compile(
    r"^(is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|shall|may|might|isn't|aren't|"
    r"doesn't|didn't|wasn't|won't)\b",
    re.IGNORECASE,
)
_HOW_MUCH = re.compile(
    r"^how (many|much|long|old|often|far|big|large|soon|quickly|fast|high|tall|deep|wide|early|late)\b", re.IGNORECASE
)
_EXPLAIN = re.compile(
    r"^(why|how)\b|\bexplain\b|\bwhat('s| is) in it for\b|\bin it for\b|\bget out of\b|\bgets? out of it\b"
    r"|\b(gain|gains|benefit|benefits|hoping|hope|hopes|want|wants|stand to|implications?|significance|signify"
    r"|mean for|means for|matter|matters|important|importance|reason|reasons|purpose|motive|motives|goal|goals"
    r"|interest in|interested|role|tells? us|say about|says about|suggests?|signals?|show about|come into|fit into"
    r"|relationship|relations|like now|stance)\b",
    re.IGNORECASE,
)
_DESCRIBE = re.compile(r"^(?:who|what)(?:'s| is| are| was| were)\s+(.+?)\s*\??$|^(?:tell me about|describe)\b", re.I)
_ENDS_IN_PREPOSITION = re.compile(r"\b(as|of|for|to|by|with|in|on|at|from|about)$", re.IGNORECASE)


def _describes(q: str) -> bool:
    """"Who is Ahmad Al-Sharaa?", "What is the Antalya Diplomacy Forum?": a name of up to five words, not a clause
    ("What is a no contest plea the same as?")."""
    m = _DESCRIBE.search(q)
    if m is None or m.group(1) is None:
        return m is not None
    thing = m.group(1)
    return len(thing.split()) <= 5 and not _ENDS_IN_PREPOSITION.search(thing) and not re.match(
        r"the (reason|purpose|goal)", thing, re.I
    )


_LEAD = re.compile(r"^\s*(so|and|but|ok(ay)?|hey|hi|please|pls|also|then|well|now)\b[\s,]*", re.IGNORECASE)

KINDS = ("fact", "explain", "describe", "list", "summary", "yesno")


@dataclass(frozen=True)
class Kind:
    """A question's kind and what follows from it for generation."""

    name: str
    max_tokens: int
    may_decline: bool  # offer the model "NOT IN ARTICLE"
    max_sentences: int


SPECS = {
    "fact": Kind("fact", 60, True, 2),
    "explain": Kind("explain", 110, False, 3),
    "describe": Kind("describe", 80, False, 2),
    "list": Kind("list", 110, False, 4),
    "summary": Kind("summary", 150, False, 4),
    "yesno": Kind("yesno", 80, False, 2),
}


_TWO = re.compile(r"(?<=[a-z] )([24])(?=\s*(?:$|[?!.]|the\b|them\b|him\b|her\b|us\b|me\b|syria\b|baku\b))", re.I)


def normalize_chat(question: str) -> str:
    """Chat spelling a reader types ("what r they hoping", "talk 2 them", "summarise pls", "why??") in words."""
    q = _SLANG.sub(lambda m: SLANG[m.group(1).lower()], question)
    q = _TWO.sub(lambda m: "to" if m.group(1) == "2" else "for", q)
    q = re.sub(r"([?!.])\1+", r"\1", q)
    return re.sub(r"\s+", " ", q).strip()


def classify(question: str) -> Kind:
    """The kind of answer asked for, from the question's wording alone (cheap and predictable)."""
    q = _LEAD.sub("", normalize_chat(question)).strip()
    if _SUMMARY.search(q):
        return SPECS["summary"]
    if _LIST.search(q):
        return SPECS["list"]
    if _HOW_MUCH.search(q):
        return SPECS["fact"]
    if _YESNO.search(q):
        return SPECS["yesno"]
    if _EXPLAIN.search(q):
        return SPECS["explain"]
    if _describes(q):
        return SPECS["describe"]
    return SPECS["fact"]
