"""The README's "First call" and docs/guide.md, run as written (each bash block, in order) against a live
server: documentation a newcomer pastes must work."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import assortment_command
from tests.conftest import Database
from tests.servers import running_servers

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BASE = "http://127.0.0.1:8000"

pytestmark = pytest.mark.multiprocess


def bash_blocks(path: Path) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def first_call_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## First call", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def run_as_written(script: str, base: str, db: Database, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run in a folder whose `.venv/bin/assortment` is this installation's (as after `make serve`)."""
    venv_bin = folder / ".venv" / "bin"
    venv_bin.mkdir(parents=True, exist_ok=True)
    link = venv_bin / "assortment"
    if not link.exists():
        link.symlink_to(assortment_command())
    env = {**os.environ, "ASSORTMENT_DATABASE_URL": db.settings.database_url, "BASE": base}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace(DEFAULT_BASE, base)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_readme_first_call_and_the_guide_work_as_written(db: Database, tmp_path: Path) -> None:
    first_call = first_call_blocks()
    guide = bash_blocks(ROOT / "docs" / "guide.md")
    assert first_call and len(guide) >= 6
    with running_servers(db.settings.database_url, count=1) as (base,):
        done = run_as_written("\n".join(first_call), base, db, tmp_path)
        assert done.returncode == 0, done.stderr
        assert '"sku":"BS-1"' in done.stdout.replace(" ", "")
        walked = run_as_written("\n".join(guide), base, db, tmp_path)
        assert walked.returncode == 0, walked.stderr
    lines = walked.stdout.splitlines()
    assert lines[0] == "['Summer', 'Boots']"  # children, newest first
    assert lines[1] == "['Boots']"  # the product's nodes
    assert lines[2].startswith("published release ")
    assert lines[3] == "[('Trail boot', 'BOOT-TRAIL')]"  # the node's products in the release
    assert lines[4] == "['Boots', 'Summer']"
    assert lines[5] == "[('updated', 'product', ['name', 'updated_at'])]"  # the rename, in the second release
    assert lines[6] == "['Trail boot']"  # the first release restored
