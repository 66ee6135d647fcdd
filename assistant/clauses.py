"""The shorter sentences a sentence holds: its main clause with a trailing modifier cut off.

A small model often writes one true clause and then runs on ("Cultural and educational exchanges can help Syria
rebuild its institutions *by fostering a sense of unity and shared values*"). The grounding check rightly drops
the sentence for the invented tail, and with it the true part. ``shorter`` offers the sentence cut before each
trailing modifier — a prepositional phrase, an adverbial, relative or participial clause, a conjoined clause —
longest first, read from spaCy's dependency parse; the grounding check then keeps the longest one that passes
every check on its own. Nothing is added or reworded, so a cut sentence says less, never something else:
a cut that would remove a negation, a contrast or a condition ("but only if …", "unless …") is not offered, nor
any cut of a denied main clause, nor one that leaves the main verb without its subject or object. Each limit was
set on calibration answers (docs/quality.md).
"""

from __future__ import annotations

from .claims import normalize_quotes, parser

# Dependencies that start a modifier which can go: what the main clause says holds without it. An adverbial or a
# relative clause can go wherever it hangs; a phrase only where it modifies a verb ("rebuild … by fostering …"),
# never inside a noun phrase ("a sense of unity") or a list ("energy, infrastructure, and education"). A
# participle on a noun is often what the noun means ("the idea of his boys spending a weekend fishing"): kept.
_CLAUSES = {"advcl", "relcl"}
_PHRASES = {"prep", "npadvmod", "agent", "advmod"}
_SET_OFF = {",", ";", "—", "–", "-"}
_VERBS = {"VERB", "AUX"}
# What the main verb needs to still say something: its subject, object, complement or particle.
_CORE = {"nsubj", "nsubjpass", "csubj", "expl", "dobj", "attr", "acomp", "oprd", "dative", "prt", "xcomp", "ccomp",
         "aux", "auxpass", "neg"}  # fmt: skip
# A tail holding one of these words qualifies the clause before it: cutting it could flip what is said.
_QUALIFIERS = {"not", "n't", "no", "never", "nor", "neither", "without", "except", "unless", "only", "but",
               "although", "though", "however", "yet", "despite", "if", "instead", "rather", "than", "whether",
               "nothing", "none", "nobody", "hardly", "barely", "fail", "failed", "fails"}  # fmt: skip
# Words that would dangle at the end of what is kept.
_DANGLING = {"and", "or", "but", "so", ",", ";", ":", "—", "–", "-", "which", "who", "that", "while", "as"}


def shorter(sentence: str) -> list[str]:
    """The sentence cut before each trailing modifier of its main clause, longest first (empty: none)."""
    doc = parser()(normalize_quotes(sentence))  # the same length: offsets into the sentence hold
    roots = [t for t in doc if t.dep_ == "ROOT"]
    if len(roots) != 1 or roots[0].pos_ not in _VERBS:
        return []
    root = roots[0]
    words = [t for t in doc if not t.is_punct]
    if not words:
        return []
    last = words[-1].i
    core_end = max([root.i] + [c.i for c in root.children if c.dep_ in _CORE])
    if not any(c.dep_ in {"nsubj", "nsubjpass", "csubj", "expl"} for c in root.children):
        return []  # a fragment or an imperative: no clause to keep
    if any(c.dep_ == "neg" for c in root.children):
        return []  # "he didn't leave because of the rain": what is denied may be the tail
    cuts = set()
    for t in doc:
        start = t.left_edge.i
        # a clause goes when it is set off ("…, which signals …", "…, signaling …") or opens with a conjunction
        # ("because …", "after …"); unmarked, it may define what comes before ("his boys spending a weekend …")
        set_off = start > 0 and doc[start - 1].text in _SET_OFF
        marked = any(c.dep_ == "mark" for c in t.children)
        trailing = (t.dep_ in _CLAUSES and (set_off or marked)) or (t.dep_ in _PHRASES and t.head.pos_ in _VERBS)
        trailing = trailing or (t.dep_ == "conj" and t.pos_ in _VERBS)  # "…, and the two sides agreed …"
        if trailing and t.right_edge.i >= last and start > core_end:
            cuts.add(start)
    out = []
    for start in sorted(cuts, reverse=True):
        tail = {t.lower_ for t in doc[start:]}
        kept = list(doc[:start])
        while kept and (kept[-1].is_punct or kept[-1].lower_ in _DANGLING):
            kept.pop()
        if tail & _QUALIFIERS or not kept or kept[-1].i < core_end:
            continue
        text = sentence[: kept[-1].idx + len(kept[-1].text)] + "."
        if text not in out:
            out.append(text)
    return out
