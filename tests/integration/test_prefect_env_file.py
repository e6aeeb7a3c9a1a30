"""Prefect's settings read the working directory's ``.env`` (the product's settings file) once
per command, with the same values as before, and read it again when it changes
(``flows/env_file.py``). Run in a fresh interpreter: the reader is process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, pathlib, sys
import dotenv.main
parses = [0]
parse = dotenv.main.DotEnv.dict
def counted(self):
    parses[0] += 1
    return parse(self)
dotenv.main.DotEnv.dict = counted
if sys.argv[1] == "once":
    from flows.env_file import read_once
    read_once()
    read_once()  # twice: no reader wrapped in another
from prefect.settings import Settings
seen = [str(Settings().api.url) for _ in range(3)]
before = parses[0]
env = pathlib.Path(".env")
env.write_text(env.read_text().replace("first.invalid", "second.invalid:4201"))
seen.append(str(Settings().api.url))
print(json.dumps({"urls": seen, "parses": before, "after_change": parses[0] - before}))
"""


def _run(folder: Path, mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(folder)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_prefect_reads_the_env_file_once_with_the_same_values_and_again_when_it_changes(
    tmp_path: Path,
) -> None:
    comments = "".join(f"# setting {n}: what it does, and its default\n" for n in range(40))
    text = comments + "CREDIT_DATABASE_URL=sqlite:///var/credit.db\n"
    text += "PREFECT_API_URL=http://first.invalid/api\n"
    plain, once = tmp_path / "plain", tmp_path / "once"
    for folder in (plain, once):
        folder.mkdir()
        (folder / ".env").write_text(text)

    before, after = _run(plain, "plain"), _run(once, "once")

    expected = ["http://first.invalid/api"] * 3 + ["http://second.invalid:4201/api"]
    assert before["urls"] == expected
    assert after["urls"] == expected  # the same values; the change is seen
    assert before["parses"] > 30  # Prefect's own way: the file parsed for each settings model
    assert after["parses"] == 1
    assert after["after_change"] == 1
