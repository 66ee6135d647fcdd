"""The module map in docs/architecture.md is the code's: every module listed, every import allowed by it; and
the README's table of abstention signals is the one ``checks.SIGNALS`` gives."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from assistant import checks

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "assistant"


def _module_map() -> dict[str, set[str]]:
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ([^|]+) \|$", (ROOT / "docs" / "architecture.md").read_text(), re.M)
    return {m: {x.strip() for x in allowed.split(",") if x.strip() not in ("—", "")} for m, allowed in rows}


def _imports(path: Path) -> set[str]:
    """The package's own modules that ``path`` imports (``from .x import``, ``from . import x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
    return found


def test_every_module_is_in_the_map_and_imports_only_what_it_may():
    allowed = _module_map()
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == set(allowed), f"unlisted: {modules - set(allowed)}; listed but gone: {set(allowed) - modules}"
    wrong = {m: sorted(_imports(PACKAGE / f"{m}.py") - allowed[m]) for m in modules}
    assert not {m: w for m, w in wrong.items() if w}, wrong


def test_the_map_has_no_cycles():
    allowed = _module_map()
    done: set[str] = set()

    def visit(m: str, path: tuple[str, ...]) -> None:
        assert m not in path, f"cycle: {' -> '.join((*path, m))}"
        if m not in done:
            for d in allowed.get(m, ()):
                visit(d, (*path, m))
            done.add(m)

    for m in allowed:
        visit(m, ())


def test_readme_lists_every_abstention_signal_as_checks_defines_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert checks.table() in readme
    assert [s.name for s in checks.SIGNALS] == list(checks.NAMES) and len(set(checks.NAMES)) == len(checks.NAMES)
