"""All settings in one place: defaults, overridden by ``ASSISTANT_*`` environment variables.

CLI flags override these again by building a new ``Settings`` with ``settings.model_copy(update=...)``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, model_validator

# Offline switches: set before any Hugging Face / Chroma import so that nothing tries the network.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}
for _k, _v in OFFLINE_ENV.items():
    os.environ.setdefault(_k, _v)


def _default_root() -> Path:
    return Path(os.environ.get("ASSISTANT_ROOT", os.getcwd())).resolve()


def _names(text: str) -> set[str]:
    """A comma-separated setting ("a, b,") as its set of names."""
    return {x.strip() for x in text.split(",") if x.strip()}


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "assistant"


class Settings(BaseModel):
    """Every tunable of the assistant. Field names map to ``ASSISTANT_<NAME>`` variables."""

    root: Path = Field(default_factory=_default_root, description="Project root; sources are cited relative to it.")
    seeds_dir: Path | None = Field(None, description="Source documents (default: <root>/seeds).")
    index_dir: Path | None = Field(None, description="Persistent Chroma store (default: <root>/index).")
    prompts_dir: Path | None = Field(
        None, description="Prompt files (default: <root>/prompts, else the packaged copy)."
    )
    cache_dir: Path = Field(default_factory=_default_cache, description="Where the joined GGUF model lives.")

    # splitting
    chunk_size: int = Field(600, description="Max characters per passage.")
    chunk_overlap: int = Field(0, description="Characters shared by neighbouring passages.")

    # store
    chroma_url: str | None = Field(
        None, description="A Chroma server (e.g. http://127.0.0.1:8000) instead of the embedded store in index/."
    )
    collection: str = Field("passages", description="Chroma collection name (one per corpus on a shared server).")

    embedding_runtime: str = Field(
        "onnx", description="'onnx' (onnxruntime, no torch import at start-up) or 'torch' (sentence-transformers)."
    )

    # retrieval
    k: int = Field(4, description="Passages returned by hybrid retrieval.")
    rrf_k: int = Field(60, description="Reciprocal-rank-fusion constant.")
    full_context_chars: int = Field(
        6000, description="A corpus up to this size is given to the model whole, in a stable order (prefix reuse)."
    )

    # generation
    backend: str = Field(
        "llamacpp", description="'llamacpp' (in-process GGUF) or 'openai' (compatible endpoint; implied by llm_url)."
    )
    model_path: Path | None = Field(None, description="A GGUF file to use instead of the joined default.")
    llm_url: str | None = Field(None, description="OpenAI-compatible base URL (backend=openai).")
    llm_model: str = Field("qwen2.5-coder-1.5b-instruct", description="Model name sent to the OpenAI endpoint.")
    llm_api_key: str = Field("not-needed", description="API key for the OpenAI endpoint.")
    n_ctx: int = Field(4096, description="Context window of the local model.")
    n_threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    max_tokens: int = Field(64, description="Longest answer the model may write.")
    seed: int = Field(0)

    retry_k: int = Field(
        2, description="When the model finds nothing in the whole text, ask again over the top-k passages (0: off)."
    )

    verify: bool = Field(
        False,
        description="Ask the model again over the cited sentences alone and abstain if it then finds no answer: "
        "more unanswerable questions declined on unseen texts, fewer paraphrases answered, one more model call.",
    )

    fact_sentences: bool = Field(
        True,
        description="Say a fact found as a phrase as one full sentence (one more short model call); off: the phrase.",
    )

    instruction_first: str = Field(
        "",
        description="Comma-separated kinds (or 'all') whose instruction comes before the question "
        "(prompts/answer_first.md) and is kept evaluated with the article, so a question reads only its own words: "
        "first words ~0.5 s sooner, but the answers change (docs/quality.md). Off by default.",
    )
    evidence_kinds: str = Field(
        "explain,describe,list",
        description="Comma-separated kinds (or 'all') whose question is shown with the article sentences closest to "
        "it (prompts/evidence.md), ranked by the embedding model, once the reply without them has shown that the "
        "question is answered (Assistant.gate); not with the instruction first. Empty: off (docs/quality.md).",
    )
    evidence_k: int = Field(3, description="How many sentences ``evidence_kinds`` questions are shown.")
    disabled_signals: str = Field(
        "", description="Comma-separated abstention signals to switch off (ablation), e.g. 'term_coverage,retry'."
    )
    check_all: bool = Field(False, description="Evaluate every signal even after one fails (for ablation runs).")

    # input limits
    max_question_chars: int = Field(2000)
    max_question_tokens: int = Field(512, description="Longest question in model tokens (bounds the context).")
    max_history_turns: int = Field(6, description="Most recent conversation turns kept for follow-ups.")

    # chat page
    host: str = Field("127.0.0.1", description="Address the chat page binds to (loopback unless told otherwise).")
    port: int = Field(7860)
    feedback_path: Path | None = Field(None, description="Thumbs up/down log (default: <root>/reports/feedback.jsonl).")
    queue_size: int = Field(32, description="Requests waiting for the model before new ones are told it is busy.")
    allow_add: bool | None = Field(
        None,
        description="Whether the chat page lets readers add and remove articles (default: only on a loopback host).",
    )

    # the reader's own articles
    max_article_chars: int = Field(
        200_000,
        description="Longest article one can add: ~35,000 words, ~330 passages, embedded in ~10 s on 2 cores.",
    )

    @model_validator(mode="after")
    def _url_implies_openai(self) -> Settings:
        # Setting only ASSISTANT_LLM_URL is the obvious way to say "use that server".
        if self.llm_url and "backend" not in self.model_fields_set:
            self.backend = "openai"
        return self

    @property
    def seeds(self) -> Path:
        return (self.seeds_dir or self.root / "seeds").resolve()

    @property
    def added(self) -> Path:
        """Where added articles are stored: beside the seeds, so that every source is in one folder."""
        return self.seeds / "added"

    @property
    def index(self) -> Path:
        return (self.index_dir or self.root / "index").resolve()

    @property
    def disabled(self) -> set[str]:
        return _names(self.disabled_signals)

    def instruction_first_for(self, kind: str) -> bool:
        """Whether questions of ``kind`` get their instruction before the question (``instruction_first``)."""
        chosen = _names(self.instruction_first)
        return "all" in chosen or kind in chosen

    def evidence_for(self, kind: str) -> bool:
        """Whether questions of ``kind`` are shown the sentences closest to them (``evidence_kinds``)."""
        chosen = _names(self.evidence_kinds)
        return self.evidence_k > 0 and ("all" in chosen or kind in chosen)

    @property
    def feedback(self) -> Path:
        return (self.feedback_path or self.root / "reports" / "feedback.jsonl").resolve()

    @property
    def prompts(self) -> Path:
        if self.prompts_dir:
            return self.prompts_dir.resolve()
        local = self.root / "prompts"
        return local if local.is_dir() else Path(__file__).resolve().parent.parent / "prompts"

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        values: dict = {}
        for name in cls.model_fields:
            env = os.environ.get(f"ASSISTANT_{name.upper()}")
            if env not in (None, ""):
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
