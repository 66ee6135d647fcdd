"""The line of questions waiting for the model: first come, first answered, each told its place and wait.

One llama.cpp model writes one answer at a time. Gradio's own queue would show waiting users only a spinner
with a counter, so the chat page lets every question in and lines them up here instead: a waiting question's
bubble says "2nd in line, about 6 s" and is updated while it waits. The expected wait is what the answer being
written still needs plus one typical answer (the median of the last few) for each question ahead.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from .schema import AssistantError


class QueueFullError(AssistantError):
    """More questions are waiting than the line holds (``ASSISTANT_QUEUE_SIZE``)."""


@dataclass(eq=False)
class Ticket:
    """One question's place in the line; ``started`` is set when its answer begins."""

    joined: float = field(default_factory=time.monotonic)
    started: float | None = None
    seen: float = field(default_factory=time.monotonic)  # last sign of life from its holder (``touch``)

    def touch(self) -> None:
        self.seen = time.monotonic()

    @property
    def waited(self) -> float:
        return (self.started or time.monotonic()) - self.joined


class AnswerQueue:
    """A FIFO of tickets: only the ticket at the front may use the model."""

    def __init__(self, capacity: int, remembered: int = 20, stale_after: float = 120.0):
        self.capacity = capacity
        self.stale_after = stale_after  # a front ticket silent this long was abandoned without leaving
        self._line: deque[Ticket] = deque()
        self._durations: deque[float] = deque(maxlen=remembered)
        self._changed = threading.Condition()

    def join(self) -> Ticket:
        with self._changed:
            if len(self._line) > self.capacity:  # the one being answered plus ``capacity`` waiting
                raise QueueFullError("The server is busy (too many questions waiting). Please try again shortly.")
            ticket = Ticket()
            self._line.append(ticket)
            self._drop_stale()
            self._start_front()
            return ticket

    def wait(self, ticket: Ticket, timeout: float) -> bool:
        """Block until it is this ticket's turn, or ``timeout`` seconds; True when its turn has come."""
        def turn() -> bool:
            self._drop_stale()
            return ticket.started is not None

        ticket.touch()
        with self._changed:
            return self._changed.wait_for(turn, timeout)

    def leave(self, ticket: Ticket, answered: bool = True) -> None:
        """Done (answered, failed or abandoned): the next ticket's turn; an answered one's time is remembered."""
        with self._changed:
            if answered and ticket.started is not None and self._line and self._line[0] is ticket:
                self._durations.append(time.monotonic() - ticket.started)
            if ticket in self._line:
                self._line.remove(ticket)
            self._start_front()
            self._changed.notify_all()

    def place(self, ticket: Ticket) -> int:
        """How many questions are ahead of this one (0: it is being answered)."""
        with self._changed:
            return self._line.index(ticket) if ticket in self._line else 0

    def typical(self) -> float | None:
        """The median time of the last answers; None before the first answer."""
        with self._changed:
            return statistics.median(self._durations) if self._durations else None

    def expected_wait(self, ticket: Ticket) -> float | None:
        """Seconds until this ticket's turn, from the typical answer time; None while nothing is known."""
        typical = self.typical()
        with self._changed:
            if typical is None or ticket not in self._line:
                return None
            ahead = self._line.index(ticket)
            if ahead == 0:
                return 0.0
            front = self._line[0]
            left = max(0.0, typical - (time.monotonic() - (front.started or time.monotonic())))
            return left + typical * (ahead - 1)

    def __len__(self) -> int:
        with self._changed:
            return len(self._line)

    def _drop_stale(self) -> None:
        """A holder that vanished without ``leave`` (a generator never closed) must not stop the line."""
        while self._line and time.monotonic() - self._line[0].seen > self.stale_after:
            self._line.popleft()
            self._start_front()

    def _start_front(self) -> None:
        if self._line and self._line[0].started is None:
            self._line[0].started = time.monotonic()
