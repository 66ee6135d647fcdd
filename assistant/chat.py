"""The chat page's steps, each a small handler over ``Assistant.stream``: pick an article, start a question,
stream its answer, finish, the API's whole turn, start over, and a vote. ``ui.build_app`` lays out the page
and wires these to its events; no answering logic lives here.

The conversation lives in a ``gr.State`` dict (``new_state``); every handler takes it and returns a new one.
"""

import logging
import uuid
from datetime import UTC, datetime

import gradio as gr

from .config import Settings
from .feedback import FeedbackError, FeedbackLog
from .queueing import AnswerQueue, QueueFullError
from .rendering import (
    ALL_ARTICLES,
    _inline,
    _short,
    clean_text,
    render_answer,
    render_article,
    render_error,
    render_queued,
    render_reading,
    render_streaming,
    render_waiting,
)
from .schema import AssistantError

log = logging.getLogger(__name__)
BUSY = "The server is busy (too many questions waiting). Please try again shortly."
WAIT_TICK = 1.0  # seconds between updates of a waiting question's place and expected wait


def new_state() -> dict:
    """A conversation's state. Its session id is given at the first question: Gradio copies the initial value of
    a ``gr.State`` into every session, so an id made here would be shared by all of them."""
    return {"messages": [], "turns": [], "pending": None, "error": None, "asked": 0, "session": None, "source": None}


class ChatHandlers:
    """The page's handlers for ``engine`` (an ``Assistant`` or anything with the same ``stream``)."""

    def __init__(self, engine, ui: Settings):
        self.engine = engine
        self.feedback = FeedbackLog(ui.feedback)
        self.line = AnswerQueue(ui.queue_size)
        self.initial_article = render_article(self.docs(), self.sources[0] if self.sources else None, [])

    @property
    def sources(self) -> list[str]:
        """The articles now (a reader may add or remove one while the page is open)."""
        return [d.source for d in getattr(self.engine, "documents", [])]

    def picker(self):
        """The "Answer from" choices as they are now: a page opened after an article was added offers it."""
        sources = self.sources
        return gr.update(choices=[ALL_ARTICLES, *sources], value=ALL_ARTICLES, visible=len(sources) > 1)

    def docs(self) -> list[tuple[str, str]]:
        return [(s, self.engine.source_text(s)) for s in self.sources]

    def pick(self, choice: str, state: dict):
        """'All articles' or one source: later questions are answered from it alone; the pane shows it."""
        state = dict(state)
        state["source"] = choice if choice in self.sources else None
        return state, render_article(self.docs(), state["source"] or (self.sources[0] if self.sources else None), [])

    def start(self, question: str, state: dict):
        """Show the question at once (outside Gradio's queue) and leave a waiting note for the answer."""
        state = dict(state)
        if state.get("pending") is not None:  # Enter pressed again while this page's answer is being written
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        msgs = list(state["messages"])
        state["session"] = state.get("session") or uuid.uuid4().hex[:12]
        question = clean_text(question)
        if question.strip():
            msgs.append({"role": "user", "content": _inline(_short(question, 300))})
        msgs.append({"role": "assistant", "content": render_waiting()})
        state.update(messages=msgs, pending=question)
        return "", msgs, state, gr.update(interactive=False)

    def respond(self, state: dict):
        """Wait in line (told the place and the wait), then stream one answer: the only step using the model."""
        state = dict(state)
        question = state.get("pending")
        msgs = list(state["messages"])
        if question is None or not msgs:
            yield msgs, state, gr.skip()
            return
        slot = len(msgs) - 1
        try:
            ticket = self.line.join()
        except QueueFullError as exc:
            msgs[slot] = {"role": "assistant", "content": render_error(str(exc))}
            state.update(messages=msgs, pending=None, error=str(exc))
            yield msgs, state, gr.skip()
            return
        answered = False
        try:
            tick = 0.0
            while not self.line.wait(ticket, tick):  # not yet: say how many are ahead and how long it may take
                tick = WAIT_TICK
                msgs[slot] = {"role": "assistant",
                              "content": render_queued(self.line.place(ticket), self.line.expected_wait(ticket))}
                yield msgs, state, gr.skip()
            state["waited_s"] = round(ticket.waited, 3)
            for update in self._answer(question, msgs, slot, state):
                ticket.touch()
                yield update
            answered = state.get("error") is None
        finally:  # also when the page is closed or "Start over" cancels the step
            self.line.leave(ticket, answered)

    def _answer(self, question: str, msgs: list, slot: int, state: dict):
        """Stream the engine's answer into the message at ``slot``; errors become messages."""
        history = [(t["question"], t["text"]) for t in state["turns"]]
        msgs[slot] = {"role": "assistant", "content": render_reading()}
        state.update(asked=state.get("asked", 0) + 1, error=None)
        yield msgs, state, gr.skip()
        partial, checked, decision, answer = "", None, None, None
        try:
            for kind, value in self.engine.stream(question, history, state.get("source")):
                if kind in ("token", "sentence"):
                    partial, checked = (partial + value, checked) if kind == "token" else ("", value)
                    shown = render_streaming(partial, checked, self.engine.source_text)
                    msgs[slot] = {"role": "assistant", "content": shown}
                    yield msgs, state, gr.skip()
                elif kind == "decision":
                    decision = value
                elif kind == "answer":
                    answer = value
            if answer is None:
                raise AssistantError("The assistant gave no answer.")
        except AssistantError as exc:
            msgs[slot] = {"role": "assistant", "content": render_error(str(exc))}
            state.update(messages=msgs, pending=None, error=str(exc))
            yield msgs, state, gr.skip()
            return
        except Exception as exc:  # never a traceback on the page
            log.exception("answering failed")
            oops = f"Something went wrong on the server ({type(exc).__name__}). Please try again."
            msgs[slot] = {"role": "assistant", "content": render_error(oops)}
            state.update(messages=msgs, pending=None, error=oops)
            yield msgs, state, gr.skip()
            return
        msgs[slot] = {"role": "assistant", "content": render_answer(answer, self.engine.source_text, decision)}
        turns = list(state["turns"])
        reasons = list(getattr(decision, "reasons", None) or [])
        turns.append(
            {
                "question": question,
                "text": answer.text,
                "answer": answer.model_dump(mode="json"),
                "reasons": reasons,
                "message": slot,
            }
        )
        state.update(messages=msgs, turns=turns, pending=None)
        active = answer.citations[0].source if answer.citations else None
        yield msgs, state, render_article(self.docs(), active, answer.citations)

    def finish(self, state: dict):
        """After the queued step, whatever happened to it (also when the queue was full)."""
        state = dict(state)
        msgs = list(state["messages"])
        if state.get("pending") is not None and msgs:
            msgs[-1] = {"role": "assistant", "content": render_error(BUSY)}
            state.update(messages=msgs, pending=None, error=BUSY)
        return msgs, state, gr.update(interactive=True)

    def api_ask(self, question: str, new_conversation: bool, article: str, state: dict):
        """The chat for programs (``Client(url).predict(question, False, api_name="/ask")``): the page's own steps
        (start, respond, finish) in this session's conversation, or a new one; returns the outcome as JSON.
        ``article`` (optional) limits this conversation to one source, as the page's picker does."""
        state = dict(state)
        if state.get("pending") is not None:
            return {"error": "Please wait for the current answer to finish.", "session": state.get("session")}, state
        if new_conversation:
            state.update(messages=[], turns=[])
        if article:
            state["source"] = article
        before = len(state["turns"])
        _, _, state, _ = self.start(question, state)
        asked = state["pending"]
        *_, (_, state, _) = self.respond(state)  # run the whole (streaming) step; keep its last state
        _, state, _ = self.finish(state)
        turn = state["turns"][-1] if len(state["turns"]) > before else None
        answer = (turn or {}).get("answer") or {}
        result = {
            "question": asked,
            "text": answer.get("text", ""),
            "abstained": bool(answer.get("abstained", False)),
            "status": answer.get("status"),
            "citations": answer.get("citations", []),
            "answer": answer or None,
            "reasons": (turn or {}).get("reasons", []),
            "error": None if turn else state.get("error") or "No answer was produced.",
            "session": state.get("session"),
            "waited_s": state.get("waited_s"),
            "asked": state.get("asked", 0),
            "turns": len(state["turns"]),
        }
        return result, state

    def reset(self, choice: str | None = None):
        state = new_state()
        state["source"] = choice if choice in self.sources else None  # starting over keeps the article picked
        pane = render_article(self.docs(), state["source"], []) if state["source"] else self.initial_article
        return [], state, pane, "", gr.update(interactive=True)

    def vote(self, state: dict, data: gr.LikeData):
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        turn = next((t for t in state["turns"] if t["message"] == index), None)
        if turn is None:
            gr.Info("Only answers can be rated.")
            return
        liked = data.liked
        vote_ = "up" if liked is True else "down" if liked is False else (liked or "withdrawn")
        ans = turn["answer"]
        record = {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "session": state.get("session"),
            "question": turn["question"],
            "answer": ans["text"],
            "abstained": ans["abstained"],
            "citations": ans["citations"],
            "vote": vote_,
            "model": ans.get("model", ""),
        }
        try:
            self.feedback.append(record)
        except FeedbackError as exc:
            log.warning("%s", exc)
            gr.Warning(f"Your vote was not saved: {exc}")
            return
        gr.Info("Thanks, your feedback was saved.")
