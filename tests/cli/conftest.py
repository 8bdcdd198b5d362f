"""Running the real `assortment` command against the test database, in a subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Database

BAD_ROW = re.compile(r"^line (\d+): (.*)$")


def assortment_command() -> str:
    found = shutil.which("assortment", path=str(Path(sys.executable).parent))
    assert found, f"the assortment console script is not installed next to {sys.executable}"
    return found


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def bad_rows(self) -> dict[int, str]:
        """{line number: message} of the bad rows reported on stderr."""
        rows: dict[int, str] = {}
        for line in self.stderr.splitlines():
            match = BAD_ROW.match(line)
            if match:
                rows[int(match.group(1))] = match.group(2)
        return rows

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Cli:
    db: Database

    def run(self, *args: str | Path, timeout: float = 120, stdin: str | None = None) -> Result:
        env = {**os.environ, "ASSORTMENT_DATABASE_URL": self.db.settings.database_url}
        env.pop("ASSORTMENT_SECRET_KEY", None)
        completed = subprocess.run(
            [assortment_command(), *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            input=stdin,
            timeout=timeout,
            check=False,
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def cli(db: Database) -> Cli:
    return Cli(db)


def write_jsonl(path: Path, lines: Iterable[dict[str, Any] | str]) -> Path:
    """One line per item: dicts as JSON, strings written as they are (for broken lines)."""
    with path.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path
