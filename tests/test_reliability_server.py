"""The real chat server (``python -m assistant.cli ui``) under load and attack, on 127.0.0.1 only.

Server A runs with the defaults (no ``--host``): it must bind to loopback, serve 20 simultaneous sessions
without cross-talk, refuse to read files outside the app, and still answer afterwards. Server B has a queue
of 2 and a password (ASSISTANT_AUTH): it must turn away what does not fit with a clear "busy" message, ask
for the sign-in, and never log the password. Programs talk to the page through its ``/ask`` endpoint (the same
steps as the page: start, respond, finish), with gradio_client; each Client is one session.
"""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT
from .servers import Process, ask_api, chat_page, started

pytestmark = pytest.mark.llm

SESSIONS = 20
ANSWERABLE = [
    ("Who led the Azerbaijani delegation?", "Sharifov", "Antalya"),
    ("Where did Aliyev and Al-Sharaa meet?", "Antalya", "Sharifov"),
]
FOLLOW_UPS = {  # session -> (follow-up, what only its own conversation leads to, what the other one would)
    0: ("Which city did he visit?", "Damascus", "Antalya"),  # he = Sharifov
    1: ("Who met there?", "Aliyev", "Sharifov"),  # there = the Antalya Diplomacy Forum
}
RESULT_TIMEOUT = 900  # one answer at a time on a shared 2-core machine: the last of 20 waits a while


def _serve(tmp: Path, index: Path, env: dict[str, str] | None = None) -> Process:
    """``assistant ui`` on its default host (no --host, no ASSISTANT_HOST), ready when it says so."""
    server = chat_page(tmp, {"ASSISTANT_INDEX_DIR": str(index), **(env or {})}, host=None)
    return started(server, lambda: "Chat page ready" in server.text())


def _client(server: Process, **kw):
    from gradio_client import Client

    return Client(server.url, verbose=False, download_files=False, **kw)


def _ask(client, question: str, new: bool = False) -> dict:
    return ask_api(client, question, new, timeout=RESULT_TIMEOUT)


# == server A: the defaults ==================================================================================


@pytest.fixture(scope="module")
def server(tmp_path_factory, settings):
    s = _serve(tmp_path_factory.mktemp("server-a"), settings.index)
    yield s
    s.stop()
    assert "Traceback" not in s.text(), s.text()[-5000:]


def _listening(port: int) -> list[str]:
    """Local addresses (IPv4/IPv6 hex as in /proc/net) of the sockets listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if int(hexport, 16) == port and state == "0A":
                found.append(addr)
    return found


def test_default_server_listens_on_loopback_only_and_is_not_shared(server):
    addrs = _listening(server.port)
    if not addrs:
        pytest.skip("/proc/net/tcp is not readable here")
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1
    assert set(addrs) <= loopback, addrs
    log = server.text()
    assert "gradio.live" not in log and "public link" not in log.lower()
    assert f"http://127.0.0.1:{server.port}/" in log


def test_twenty_sessions_at_once_each_get_their_own_answers(server):
    """20 gradio_client sessions x 5 questions at once: 2 conversations with a follow-up, 22 model answers,
    78 abstentions whose reason names a number only that session asked about."""
    results: dict[int, list[tuple[str, dict]]] = {}
    errors: list[str] = []
    start = threading.Barrier(SESSIONS)

    def session(i: int) -> None:
        try:
            client = _client(server)
            start.wait(timeout=120)
            question = ANSWERABLE[i % 2][0]
            got = [(question, _ask(client, question, new=True))]
            if i in FOLLOW_UPS:
                follow = FOLLOW_UPS[i][0]
                got.append((follow, _ask(client, follow)))  # same conversation: needs this session's history
            while len(got) < 5:
                question = f"What happened in {1000 + 10 * i + len(got)}?"
                got.append((question, _ask(client, question, new=True)))
            results[i] = got
        except Exception as exc:  # collected: a thread's exception would otherwise be lost
            errors.append(f"session {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=session, args=(i,)) for i in range(SESSIONS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=RESULT_TIMEOUT * 2)
    elapsed = time.perf_counter() - t0
    assert not errors, errors
    assert sorted(results) == list(range(SESSIONS)), "some sessions did not finish"
    sessions = set()
    for i, got in results.items():
        assert len(got) == 5
        ids = {r["session"] for _, r in got}
        assert len(ids) == 1 and None not in ids, (i, ids)  # one session throughout...
        sessions |= ids
        assert [r["asked"] for _, r in got] == [1, 2, 3, 4, 5], (i, got)  # ...whose counter no one else moved
        for question, r in got:
            assert r["error"] is None and r["question"] == question, (i, r)
        first = got[0][1]
        _, want, other = ANSWERABLE[i % 2]
        assert not first["abstained"] and want in first["text"] and other not in first["text"], (i, first)
        assert first["citations"] and all(c["source"] == "seeds/azerbaijan-syria.txt" for c in first["citations"])
        if i in FOLLOW_UPS:
            follow = got[1][1]
            _, want, other = FOLLOW_UPS[i]
            assert follow["turns"] == 2 and want in follow["text"] and other not in follow["text"], (i, follow)
        for question, r in got[1 + (i in FOLLOW_UPS) :]:
            number = question.split()[-1].rstrip("?")
            assert r["abstained"] and any(number in why for why in r["reasons"]), (i, r)
    assert len(sessions) == SESSIONS  # 20 distinct sessions
    print(f"20 sessions x 5 questions: 100 requests, all answered, in {elapsed:.0f} s")


def test_hostile_input_through_the_api_gets_messages_not_errors(server):
    client = _client(server)
    empty = _ask(client, "   ")
    assert empty["error"] == "Please type a question."
    long = _ask(client, "x" * 20_000)
    assert "20,000 characters" in long["error"] and "2,000" in long["error"]
    # invalid Unicode cannot even be sent by gradio_client (httpx refuses it): raw JSON over HTTP instead
    body = json.dumps({"data": ["Who won the 2022 FIFA World Cup?\ud800\x00\x1b", True, None]}).encode()
    req = urllib.request.Request(
        server.url + "gradio_api/call/ask", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        event = json.load(r)["event_id"]
    with urllib.request.urlopen(f"{server.url}gradio_api/call/ask/{event}", timeout=RESULT_TIMEOUT) as r:
        stream = r.read().decode()
    assert "event: complete" in stream, stream
    result = json.loads(stream.split("event: complete\ndata: ", 1)[1].splitlines()[0])[0]
    assert result["abstained"] and result["error"] is None
    assert result["question"] == "Who won the 2022 FIFA World Cup?\ufffd"


PROBES = [
    "/file=/etc/passwd",
    "/file=../../../../../../etc/passwd",
    "/gradio_api/file=/etc/passwd",
    "/gradio_api/file=../../../../../../etc/passwd",
    "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/gradio_api/file=..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/gradio_api/file=%2fetc%2fpasswd",
    "/gradio_api/file=//etc/passwd",
    "/static/../../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/assets/../../../../../etc/passwd",
    "/assets/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/gradio_api/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/favicon.ico/../../../../etc/passwd",
    "/gradio_api/file={root}/pyproject.toml",
    "/gradio_api/file={root}/.venv/pyvenv.cfg",
    "/gradio_api/file={secret}",
    "/file={secret}",
    "/gradio_api/proxy=http://127.0.0.1:{port}/config",
]


def test_no_route_reads_files_outside_the_app(server, tmp_path):
    token = secrets.token_hex(16)
    secret = tmp_path / "secret.txt"
    secret.write_text(token)
    leaks = []
    for probe in PROBES:
        path = probe.format(root=ROOT, secret=secret, port=server.port)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", path)  # sent as written: no client-side normalisation of ../
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        conn.close()
        markers = ("root:x:0:0", token, "[build-system]", "home = ")
        if resp.status == 200 and ("proxy=" in path or any(m in body for m in markers)):
            leaks.append(f"{path} -> {resp.status}: {body[:80]!r}")
    assert not leaks, leaks
    print(f"{len(PROBES)} path-traversal requests, none served a file")


def test_server_still_answers_afterwards(server):
    r = _ask(_client(server), "Who led the Azerbaijani delegation?", new=True)
    assert not r["abstained"] and "Sharifov" in r["text"]


# == server B: a queue of 2 and a password ======================================================================


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, settings):
    password = "pw-" + secrets.token_urlsafe(12)
    s = _serve(
        tmp_path_factory.mktemp("server-b"),
        settings.index,
        {"ASSISTANT_QUEUE_SIZE": "2", "ASSISTANT_AUTH": f"alice:{password}"},
    )
    s.password = password
    yield s
    s.stop()
    assert password not in s.text()


def test_sign_in_is_required_and_the_password_never_logged(guarded):
    from gradio_client import Client

    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises different errors across versions
        Client(guarded.url, verbose=False)
    with pytest.raises(Exception):  # noqa: B017
        Client(guarded.url, verbose=False, auth=("alice", "wrong"))
    for method, path in (("GET", "/config"), ("GET", "/gradio_api/info"), ("POST", "/gradio_api/call/ask")):
        conn = http.client.HTTPConnection("127.0.0.1", guarded.port, timeout=30)
        body = json.dumps({"data": ["Who led the delegation?", True, None]}) if method == "POST" else None
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        status = conn.getresponse().status
        conn.close()
        assert status == 401, (method, path, status)
    r = _ask(_client(guarded, auth=("alice", guarded.password)), "Who won the 2022 FIFA World Cup?", new=True)
    assert r["abstained"] and r["error"] is None
    assert guarded.password not in guarded.text()
    with open(f"/proc/{guarded.proc.pid}/cmdline", "rb") as f:
        assert guarded.password.encode() not in f.read()  # given by environment, not on the command line


def test_a_full_queue_says_busy_and_the_server_recovers(guarded):
    """10 questions at once into a queue of 2: the ones that fit are answered, the rest are told to try again."""
    from gradio_client.utils import QueueError

    auth = ("alice", guarded.password)
    clients = [_client(guarded, auth=auth) for _ in range(10)]
    outcomes: list[tuple[str, str]] = []
    gate = threading.Barrier(len(clients))

    def one(i: int, client) -> None:
        gate.wait(timeout=60)
        try:
            r = client.submit(ANSWERABLE[i % 2][0], True, api_name="/ask").result(timeout=RESULT_TIMEOUT)
            outcomes.append(("answered" if not r["error"] else "error", r["text"] or r["error"]))
        except QueueError as exc:
            outcomes.append(("busy", str(exc)))
        except Exception as exc:  # noqa: BLE001 - anything else is reported by the assertion below
            outcomes.append(("other", f"{type(exc).__name__}: {exc}"))

    threads = [threading.Thread(target=one, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=RESULT_TIMEOUT * 2)
    kinds = [k for k, _ in outcomes]
    assert len(outcomes) == 10 and set(kinds) <= {"answered", "busy"}, outcomes
    assert kinds.count("busy") >= 1 and kinds.count("answered") >= 1, outcomes
    assert all("try again" in text.lower() for kind, text in outcomes if kind == "busy")
    assert all(("Sharifov" in t or "Antalya" in t) for kind, t in outcomes if kind == "answered"), outcomes
    r = _ask(clients[0], "Where did Aliyev and Al-Sharaa meet?", new=True)
    assert "Antalya" in r["text"]
    print(f"queue of 2, 10 at once: {kinds.count('answered')} answered, {kinds.count('busy')} told busy")
