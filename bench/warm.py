"""Warm, in one process: (a) the project, (b) the LangChain tutorial chain and (c) bare llama.cpp, question by
question on the same loaded model; retrieval; memory."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from .common import ROOT, summary

RETRIEVAL_REPEATS = 3
BASELINE_TEMPLATE = "Answer the question based only on the following context:\n{context}\n\nQuestion: {question}"


class Perf:
    """llama.cpp's own counters: prompt tokens evaluated and generated tokens, with their times."""

    def __init__(self, llama):
        import llama_cpp

        self._lib, self._ctx = llama_cpp, llama._ctx.ctx

    def reset(self) -> None:
        self._lib.llama_perf_context_reset(self._ctx)

    def read(self) -> dict:
        d = self._lib.llama_perf_context(self._ctx)
        return {
            "prompt_tokens": d.n_p_eval,
            "prompt_s": d.t_p_eval_ms / 1e3,
            "gen_tokens": d.n_eval,
            "gen_s": d.t_eval_ms / 1e3,
        }


def run_project(a, perf: Perf, question: str) -> dict:
    a.warm()  # untimed: put the article prefix back after (b)/(c) used the model
    perf.reset()
    t0 = time.perf_counter()
    first, words, answer, decision = None, None, None, None
    for kind, value in a.stream(question):
        if kind == "token" and first is None:
            first = time.perf_counter() - t0
        elif kind == "sentence" and words is None:  # the first checked sentence a reader sees
            words = time.perf_counter() - t0
        elif kind == "decision":
            decision = value
        elif kind == "answer":
            answer = value
    total = time.perf_counter() - t0
    llama = a.chat.llama
    raw = decision.raw if decision else ""
    stats = perf.read()
    return {
        "first_token_s": first,
        "first_words_s": words,
        "total_s": total,
        "sentences": len(answer.sentences),
        "retrieve_s": answer.timings.get("retrieve_s"),
        "generate_s": answer.timings.get("generate_s"),
        "raw": raw,
        "raw_tokens": len(llama.tokenize(raw.encode("utf-8"), add_bos=False, special=False)) if raw else 0,
        "answer": answer.text,
        "abstained": answer.abstained,
        "retried": bool(getattr(decision, "retried", False)),
        **stats,
    }


def langchain_chain(a):
    """The LangChain RAG tutorial chain over the project's Chroma store and the same model."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough

    from assistant.llm import chat_model

    retriever = a.index.store.as_retriever(search_kwargs={"k": 4})
    prompt = ChatPromptTemplate.from_template(BASELINE_TEMPLATE)

    def format_docs(docs):
        return "\n\n".join(doc.page_content for doc in docs)

    llm = chat_model(a.settings)
    return {"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt | llm | StrOutputParser()


def run_langchain(chain, perf: Perf, question: str) -> dict:
    perf.reset()
    t0 = time.perf_counter()
    first, text = None, ""
    for piece in chain.stream(question):
        if first is None:
            first = time.perf_counter() - t0
        text += piece
    return {"first_token_s": first, "total_s": time.perf_counter() - t0, "answer": text, **perf.read()}


def run_raw(llama, perf: Perf, question: str, n_tokens: int, ban: dict[int, float]) -> dict | None:
    if n_tokens <= 0:
        return None
    perf.reset()
    t0 = time.perf_counter()
    first, text = None, ""
    stream = llama.create_completion(
        question, max_tokens=n_tokens, temperature=0.0, top_k=1, seed=0, logit_bias=ban, stream=True
    )
    for part in stream:
        if first is None:
            first = time.perf_counter() - t0
        text += part["choices"][0]["text"]
    stats = perf.read()
    return {
        "first_token_s": first,
        "total_s": time.perf_counter() - t0,
        "answer": text,
        "requested_tokens": n_tokens,
        "stopped_early": stats["gen_tokens"] + 1 < n_tokens,
        **stats,
    }


def floor_tokens(project: dict) -> int:
    """Tokens (c) must sample to match (a)'s forward passes while generating (0: (a) never asked the model)."""
    if not project["raw_tokens"]:
        return 0
    return max(project["raw_tokens"], project["gen_tokens"]) + 1  # the last sampled token is never decoded


def eog_ban(llama) -> dict[int, float]:
    """A logit bias that forbids every end-of-generation token, so (c) writes exactly max_tokens."""
    import llama_cpp

    vocab = llama._model.vocab
    return {t: -1e9 for t in range(llama.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)}


def rates(rows: list[dict]) -> dict:
    """Tokens per second over all questions, from llama.cpp's counters."""
    pt = sum(r["prompt_tokens"] for r in rows)
    ps = sum(r["prompt_s"] for r in rows)
    gt = sum(r["gen_tokens"] for r in rows)
    gs = sum(r["gen_s"] for r in rows)
    return {
        "prompt_tokens_per_question": pt / len(rows) if rows else None,
        "prompt_tokens_per_s": pt / ps if ps else None,
        "gen_tokens_per_question": gt / len(rows) if rows else None,
        "gen_tokens_per_s": gt / gs if gs else None,
    }


def variant_summary(rows: list[dict]) -> dict:
    rows = [r for r in rows if r]
    return {
        "retried": sum(bool(r.get("retried")) for r in rows),
        "abstained": sum(bool(r.get("abstained")) for r in rows),
        "first_token_s": summary([r["first_token_s"] for r in rows]),
        "total_s": summary([r["total_s"] for r in rows]),
        **rates(rows),
    }


def warm_process(questions: list[str], tmp: Path) -> dict:
    """Index build and start-up, retrieval, and (a)/(b)/(c) answering, all in this process."""
    a, startup = start_up(tmp)
    retrieval = time_retrieval(a, questions)
    per_question = time_answers(a, questions)
    # the app's prefix back in place, then report how long restoring it from the state file takes
    llama = loaded_llama()
    llama.reset()
    t = time.perf_counter()
    startup["prefix_restore_mode"] = a.warm()
    startup["prefix_restore_from_file_s"] = time.perf_counter() - t
    return {"startup": startup, "retrieval": retrieval, "per_question": per_question}


def loaded_llama():
    """The process's one ``llama_cpp.Llama`` (loaded by ``Assistant.chat``)."""
    from assistant import llm as llm_mod

    return llm_mod._LLAMA


def start_up(tmp: Path):
    """Imports, the embedding model, an existing index, a fresh build, the model and its prompt prefix, timed."""
    t = time.perf_counter()
    from assistant.answering import Assistant
    from assistant.config import Settings
    from assistant.embeddings import get_embeddings

    imports_s = time.perf_counter() - t
    t = time.perf_counter()
    get_embeddings()
    embedding_load_s = time.perf_counter() - t
    index = tmp / "index-warm"
    shutil.copytree(tmp / "index-cold", index)  # the cold starts' copy: an index that exists, with its saved state
    t = time.perf_counter()
    a = Assistant(Settings.from_env(root=ROOT, index_dir=index))
    open_s = time.perf_counter() - t
    t = time.perf_counter()
    scratch = Assistant(Settings.from_env(root=ROOT, index_dir=tmp / "index-scratch"))
    build_s = time.perf_counter() - t
    startup = {
        "imports_s": imports_s,
        "embedding_model_load_s": embedding_load_s,
        "existing_index_startup_s": open_s,
        "existing_index_was_rebuilt": a.index.built,
        "index_build_s": build_s,
        "index_build_rebuilt": scratch.index.built,
        "passages": len(a.index.passages),
    }
    del scratch
    t = time.perf_counter()
    a.chat  # noqa: B018 - loads the model
    startup["model_load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    startup["prefix_warm_mode"] = a.warm()
    startup["prefix_warm_s"] = time.perf_counter() - t
    llama = loaded_llama()
    startup["prefix_tokens"] = llama.n_tokens
    startup["n_threads"], startup["n_threads_batch"] = llama.n_threads, llama.n_threads_batch
    return a, startup


def time_retrieval(a, questions: list[str]) -> dict:
    """The project's hybrid retriever and the baseline's plain vector retriever, on every question."""
    vector = a.index.store.as_retriever(search_kwargs={"k": 4})
    hybrid_t, vector_t = [], []
    for q in questions:
        for _ in range(RETRIEVAL_REPEATS):
            t = time.perf_counter()
            a.retriever.retrieve(q)
            hybrid_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            vector.invoke(q)
            vector_t.append(time.perf_counter() - t)
    return {"hybrid_s": summary(hybrid_t), "vector_only_s": summary(vector_t)}


def time_answers(a, questions: list[str]) -> list[dict]:
    """(a), (b) and (c) side by side, question by question, after one untimed round."""
    llama = loaded_llama()
    perf = Perf(llama)
    chain = langchain_chain(a)
    ban = eog_ban(llama)
    # one untimed round so that first-call costs (lazy imports, template compilation) are not counted
    warmup = run_project(a, perf, questions[0])
    run_langchain(chain, perf, questions[0])
    run_raw(llama, perf, questions[0], floor_tokens(warmup), ban)
    per_question = []
    for i, q in enumerate(questions, 1):
        pa = run_project(a, perf, q)
        pb = run_langchain(chain, perf, q)
        pc = run_raw(llama, perf, q, floor_tokens(pa), ban)
        per_question.append({"question": q, "project": pa, "langchain": pb, "raw": pc})
        print(
            f"[{i:2}/{len(questions)}] (a) {pa['total_s']:5.2f}s  (b) {pb['total_s']:5.2f}s  "
            f"(c) {pc['total_s'] if pc else float('nan'):5.2f}s  {q}  -> {pa['answer']}",
            flush=True,
        )
    return per_question
