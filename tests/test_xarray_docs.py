"""The documentation's examples run: every ```python block of docs/*.md is executed in order
in one namespace per page (in a temporary directory), and a ```text block right after one must
equal what it printed."""

from __future__ import annotations

import contextlib
import io
import re
import traceback
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"```(python|text)\n(.*?)```", re.DOTALL)


def examples(page: Path) -> list[tuple[str, str | None]]:
    """(code, expected output or None) for each python block of a page."""
    blocks = FENCE.findall(page.read_text())
    out = []
    for k, (kind, body) in enumerate(blocks):
        if kind == "python":
            nxt = blocks[k + 1] if k + 1 < len(blocks) else None
            out.append((body, nxt[1] if nxt and nxt[0] == "text" else None))
    return out


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_docs_examples_run_and_print_what_the_page_says(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = examples(page)
    assert blocks, f"{page.name} has no python examples"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs.{page.stem}"}
    for k, (code, expected) in enumerate(blocks):
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(code, f"{page.name}[block {k + 1}]", "exec"), namespace)
        except Exception:
            pytest.fail(f"{page.name} block {k + 1} failed:\n{traceback.format_exc()}")
        if expected is not None:
            assert printed.getvalue().strip() == expected.strip(), f"{page.name} block {k + 1}"
