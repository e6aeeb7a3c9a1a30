"""The boundaries of ARCHITECTURE.md, checked by import-linter (contracts in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 kept, 0 broken" in proc.stdout


def test_every_service_name_is_the_use_case_even_after_its_submodule_is_imported():
    """credit.services loads its names on first use; a name that is also a submodule's name
    must still be the use case, not the module, whichever is imported first."""
    import importlib
    import types

    import credit.services as services

    for module in set(services._WHERE.values()):
        importlib.import_module(module)  # binds each submodule to the package's attribute
    for name in services.__all__:
        value = getattr(services, name)
        assert not isinstance(value, types.ModuleType), name
        assert value is getattr(importlib.import_module(services._WHERE[name]), name), name
