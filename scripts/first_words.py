"""Time to first streamed words on the chat page, as a user sees it (headless Debian chromium).

Starts ``assistant ui`` on a free 127.0.0.1 port with a temporary index (or uses --url), asks one warm-up
question, then N fresh questions (Start over between them, so no follow-up rewriting), and prints for each
the seconds from pressing Enter to the first words of the answer in the chat and to the final answer.

    .venv/bin/python scripts/first_words.py [--n 10] [--url http://127.0.0.1:7860/]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Who led the Azerbaijani delegation?",
    "What sectors did the discussions cover?",
    "Where did Aliyev and Al-Sharaa meet?",
    "How long was Azerbaijan's embassy in Damascus closed?",
    "Who is Syria's transitional leader?",
    "Which city did the Azerbaijani delegation visit?",
    "Who sent a personal message to Al-Sharaa?",
    "Which ministers did the delegation hold talks with?",
    "What kind of aid has Azerbaijan provided to Syria?",
    "Which country is a longtime opponent of the Assad regime?",
]
FINAL = ".msg-answer, .msg-abstain, .msg-error"


def start_server(tmp: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(tmp / "index"), "ASSISTANT_FEEDBACK_PATH": str(tmp / "f.jsonl")}
    cmd = [sys.executable, "-m", "assistant.cli", "ui", "--host", "127.0.0.1", "--port", str(port)]
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return proc, url
        except OSError:
            time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit(f"server did not start; see {tmp / 'server.log'}")


# Records, in the page, when the answer's first words appear: the streaming text or, if the model was
# faster than one screen update, the final answer text (abstentions and errors are not words).
WATCH = """() => {
  window.__t0 = performance.now(); window.__firstWords = null; window.__streamed = false;
  const chat = document.getElementById('chat');
  const obs = new MutationObserver(() => {
    const s = chat.querySelector('.msg-streaming');
    if (s) window.__streamed = true;
    if (window.__firstWords === null && (s || chat.querySelector('.msg-answer .answer-text'))) {
      window.__firstWords = performance.now() - window.__t0;
    }
  });
  obs.observe(chat, {subtree: true, childList: true, characterData: true});
}"""


def ask(page, question: str, timeout_ms: int = 300_000) -> tuple[float | None, float, bool, str]:
    page.click("#start-over")
    page.wait_for_function("document.querySelectorAll('#chat .message-row').length === 0")
    page.fill("#question textarea", question)
    page.evaluate(WATCH)
    page.press("#question textarea", "Enter")
    final = page.wait_for_selector(f"#chat :is({FINAL})", timeout=timeout_ms)
    first, total, streamed = page.evaluate(
        "() => [window.__firstWords, performance.now() - window.__t0, window.__streamed]"
    )
    return first / 1000 if first is not None else None, total / 1000, streamed, final.inner_text().split("\n")[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="An already running chat page (default: start one).")
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="first-words-"))
    proc, url = (None, args.url) if args.url else start_server(tmp)
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#article-pane section.doc", timeout=60_000)
            first, total, _, text = ask(page, "Who led the Azerbaijani delegation?")
            print(f"warm-up: first words {first} s, answer {total:.1f} s: {text}", flush=True)
            for q in (QUESTIONS * ((args.n // len(QUESTIONS)) + 1))[: args.n]:
                first, total, streamed, text = ask(page, q)
                rows.append(
                    {"question": q, "first_words_s": first, "streamed": streamed, "total_s": total, "answer": text}
                )
                shown = f"{first:5.2f}" if first is not None else "  -- "
                how = "streamed" if streamed else "at once "
                print(f"{shown} s first words ({how}), {total:6.2f} s total  {q}  ->  {text}", flush=True)
            browser.close()
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    firsts = [r["first_words_s"] for r in rows if r["first_words_s"] is not None]
    summary = {
        "questions": len(rows),
        "with_words": len(firsts),
        "streamed": sum(r["streamed"] for r in rows),
        "median_first_words_s": round(statistics.median(firsts), 2) if firsts else None,
        "max_first_words_s": round(max(firsts), 2) if firsts else None,
        "median_total_s": round(statistics.median(r["total_s"] for r in rows), 2) if rows else None,
    }
    print(json.dumps(summary))
    out = ROOT / "artifacts" / "first-words.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
