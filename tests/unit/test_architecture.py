"""The boundaries of ARCHITECTURE.md (at the repository's root): import-linter contracts in
pyproject.toml, and the shape of the code (tests/shape_check.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_architecture_md_names_every_import_contract():
    text = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
    contracts = (
        (REPO / "pyproject.toml")
        .read_text(encoding="utf-8")
        .count("[[tool.importlinter.contracts]]")
    )
    assert f"import-linter contract {contracts}" in text
    assert "import-linter contract 1" in text


def test_the_code_keeps_its_shape():
    from tests.shape_check import check

    assert check() == []


def test_the_shape_check_finds_long_files_and_functions_private_imports_and_cycles(tmp_path):
    from tests.shape_check import check

    pkg = tmp_path / "credit"
    pkg.mkdir()
    (tmp_path / "flows").mkdir()
    (tmp_path / "tasks").mkdir()
    (pkg / "__init__.py").write_text("")
    body = "\n".join(f"    x{i} = {i}" for i in range(85))
    (pkg / "a.py").write_text(f"from credit.b import _hidden\n\n\ndef long():\n{body}\n")
    (pkg / "b.py").write_text("import credit.a\n\n_hidden = 1\n" + "\n" * 600)
    (pkg / "table.py").write_text(f"def table():  # shape: table\n{body}\n")
    found = check(tmp_path)
    assert any("a.py:4: function long is 86 lines" in f for f in found), found
    assert any("b.py: 603 lines" in f for f in found), found
    assert any("imports the private name _hidden from credit.b" in f for f in found), found
    assert "import cycle: credit.a <-> credit.b" in found, found
    assert not any("table" in f for f in found), found


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 kept, 0 broken" in proc.stdout


def test_every_service_name_is_the_use_case_even_after_its_submodule_is_imported():
    """credit.services loads its names on first use; a name that is also a submodule's name
    must still be the use case, not the module, whichever is imported first."""
    import importlib
    import pkgutil
    import types

    import credit.services as services

    for found in pkgutil.walk_packages(services.__path__, "credit.services."):
        importlib.import_module(found.name)  # binds each submodule to the package's attribute
    names = services._where()
    assert {"decide", "dun_customers", "import_data", "record_qualitative"} <= set(names)
    for name, module in names.items():
        value = getattr(services, name)
        assert not isinstance(value, types.ModuleType), name
        assert value is getattr(importlib.import_module(module), name), name
    assert callable(services.backtest) and not isinstance(services.backtest, types.ModuleType)
