"""The wheel carries the templates, default config and sample data, and finds them when installed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_installed_wheel_finds_templates_config_and_sample_data_outside_the_repo(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "credit/_data/templates/notices/approval_needed.en.html.j2" in names
    assert (
        "credit/_data/config/policy.yaml" in names and "credit/_data/config/approvers.yaml" in names
    )
    assert "credit/_data/sample_data/customers.csv" in names
    assert "credit/db/migrations/versions/0001_initial_schema.py" in names
    assert "flows/collections.py" in names and "tasks/notices.py" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from credit.resources import resource_dir; "
        "print(resource_dir('templates')); print(resource_dir('config'))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code, str(site)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [str(site / "credit/_data/templates"), str(site / "credit/_data/config")]
