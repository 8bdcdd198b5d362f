"""BENCHMARKS.md: a header about the machine and one delimited block per benchmark.

Each benchmark owns the block between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; writing one
replaces that block only (or appends it), so the other sections and any text outside the blocks stay.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.common import Section

TITLE = "# Benchmarks"
INTRO = (
    "Figures measured by `make bench` (`python -m bench.run`, see `bench/run.py`); the budgets are in "
    "`DESIGN.md`. Each section names the command and the date that produced it; `--only NAME` reruns one "
    "section and leaves the others as they are."
)
HEADER_BLOCK = "machine"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def _block(name: str, body: str) -> str:
    start, end = _markers(name)
    return f"{start}\n{body.strip()}\n{end}"


def replace_block(document: str, name: str, body: str) -> str:
    """The document with block NAME's content replaced by BODY, or the block appended."""
    start, end = _markers(name)
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    block = _block(name, body)
    if pattern.search(document):
        return pattern.sub(lambda _: block, document, count=1)
    return document.rstrip("\n") + "\n\n" + block + "\n"


def machine_body(machine: dict[str, str], command: str) -> str:
    return (
        "## Machine\n\n"
        f"- CPUs (`nproc`): {machine['nproc']} — {machine['cpu']}\n"
        f"- memory: {machine['memory']}\n"
        f"- OS: {machine['os']}\n"
        f"- Python: {machine['python']}\n"
        f"- last command: `{command}`"
    )


def write(path: Path, name: str, section: Section, machine: dict[str, str], command: str) -> None:
    document = path.read_text(encoding="utf-8") if path.exists() else f"{TITLE}\n\n{INTRO}\n"
    document = replace_block(document, HEADER_BLOCK, machine_body(machine, command))
    document = replace_block(document, name, f"## {section.title}\n\n{section.body.strip()}")
    path.write_text(document.rstrip("\n") + "\n", encoding="utf-8")
