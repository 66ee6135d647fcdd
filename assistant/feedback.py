"""Votes from the chat page, one JSON line each, never half a line and never lost silently."""

import json
import os
import threading
from pathlib import Path


class FeedbackError(Exception):
    pass


class FeedbackLog:
    """Appends one JSON object per line; a thread lock and a file lock keep concurrent writers whole.

    Each line is written with one ``write`` to a file opened for appending; when the write fails part-way
    (disk full), the file is cut back to its previous length, so a failed vote never leaves half a line.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict) -> None:
        from filelock import FileLock, Timeout

        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            data = line.encode("utf-8")
        except UnicodeEncodeError:  # invalid Unicode (lone surrogates): keep it, escaped
            data = (json.dumps(record) + "\n").encode("ascii")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, FileLock(str(self.path) + ".lock", timeout=10):
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    start = os.lseek(fd, 0, os.SEEK_END)
                    try:
                        view = memoryview(data)
                        while view:
                            view = view[os.write(fd, view) :]
                        os.fsync(fd)
                    except OSError:
                        _truncate(fd, start)
                        raise
                finally:
                    os.close(fd)
        except (OSError, Timeout) as exc:
            raise FeedbackError(f"Could not save feedback to {self.path}: {exc}") from exc


def _truncate(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
    except OSError:  # pragma: no cover - nothing more can be done
        pass

