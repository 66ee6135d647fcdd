"""The line of questions waiting for the model: order, places, expected waits, capacity, abandoned holders."""

from __future__ import annotations

import threading
import time

import pytest

from assistant.queueing import AnswerQueue, QueueFullError


def test_first_come_first_answered_with_places_and_expected_waits():
    line = AnswerQueue(capacity=5)
    a, b, c = line.join(), line.join(), line.join()
    assert [line.place(t) for t in (a, b, c)] == [0, 1, 2]
    assert line.wait(a, 0) and not line.wait(b, 0) and not line.wait(c, 0)
    assert line.expected_wait(c) is None  # no answer timed yet: no guess
    time.sleep(0.3)
    line.leave(a)
    assert line.wait(b, 0) and [line.place(t) for t in (b, c)] == [0, 1]
    typical = line.typical()
    assert typical is not None and 0.3 <= typical < 1.0
    wait = line.expected_wait(c)
    assert wait is not None and 0 < wait <= typical
    d = line.join()
    assert line.expected_wait(d) == pytest.approx(line.expected_wait(c) + typical, abs=0.05)
    line.leave(b, answered=False)  # failed answers do not count as typical
    assert line.typical() == typical and line.wait(c, 0)


def test_a_full_line_says_busy():
    line = AnswerQueue(capacity=2)
    tickets = [line.join() for _ in range(3)]  # one answered, two waiting
    with pytest.raises(QueueFullError, match="try again"):
        line.join()
    line.leave(tickets[0])
    line.join()


def test_an_abandoned_front_ticket_does_not_stop_the_line():
    line = AnswerQueue(capacity=5, stale_after=0.2)
    line.join()  # its holder disappears without leaving
    waiting = line.join()
    assert not line.wait(waiting, 0.05)
    assert line.wait(waiting, 2.0)


def test_threads_are_served_one_at_a_time_in_the_order_they_joined():
    line = AnswerQueue(capacity=20)
    order, inside, overlaps = [], [], []
    joined = []
    lock = threading.Lock()

    def user(i: int) -> None:
        with lock:
            ticket = line.join()
            joined.append(i)
        while not line.wait(ticket, 0.5):
            pass
        inside.append(i)
        if len(inside) > 1:
            overlaps.append(list(inside))
        order.append(i)
        time.sleep(0.01)
        inside.remove(i)
        line.leave(ticket)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert order == joined and not overlaps and len(line) == 0
