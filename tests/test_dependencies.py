"""Every third-party package our code imports is declared in ``pyproject.toml``, and no pin is exact.

A package that only arrives as another one's dependency (``click`` under Flask) can vanish or
jump a major version when that one changes its own requirements; declaring it states the range we use.
Imports are read with ``ast`` (nothing is imported); the installed distributions map module names to
package names. The service's packages may use only ``[project].dependencies``; tests, benchmarks and
``setup.py`` may also use the ``test`` extra (``setup.py`` also the build requirements).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ("rewards", "draws", "partners", "signedjson", "gunicorn.conf.py")
TOOLING = ("tests", "bench", "setup.py", "tasks.py")
# Our own top-level names, and the modules of tests/ and bench/ that import each other by file name.
OURS = {"rewards", "draws", "partners", "signedjson", "tests", "bench", "tasks"}
OURS |= {path.stem for folder in ("tests", "bench") for path in (ROOT / folder).rglob("*.py")}
# Imported inside try/except ImportError: optional, declared as a test extra (draws/drand.py says why).
OPTIONAL = {"drand_verify": "drand-verify"}


def _normal(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(requirements: list[str]) -> set[str]:
    """The distribution names in a list of requirement strings."""
    return {_normal(re.split(r"[^A-Za-z0-9._-]", req.strip(), maxsplit=1)[0]) for req in requirements}


def _imports(roots: tuple[str, ...]) -> dict[str, str]:
    """Third-party top-level module -> one file importing it, for every ``.py`` under ``roots``."""
    found: dict[str, str] = {}
    for root in roots:
        path = ROOT / root
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in OURS and top not in sys.stdlib_module_names:
                        found.setdefault(top, str(file.relative_to(ROOT)))
    return found


def _undeclared(imports: dict[str, str], declared: set[str]) -> list[str]:
    """The imports whose distribution is not among ``declared``, each with a file that imports it."""
    distributions = packages_distributions()
    missing = []
    for module, where in sorted(imports.items()):
        names = {_normal(d) for d in distributions.get(module, [])} or {_normal(OPTIONAL.get(module, module))}
        if not names & declared:
            missing.append(f"{module} ({where}; installed as {sorted(names)})")
    return missing


def _project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def test_service_imports_are_declared() -> None:
    project = _project()["project"]
    declared = _declared(project["dependencies"]) | {_normal(d) for d in OPTIONAL.values()}
    assert _undeclared(_imports(SERVICE), declared) == []


def test_tooling_imports_are_declared() -> None:
    pyproject = _project()
    project = pyproject["project"]
    declared = _declared(project["dependencies"] + project["optional-dependencies"]["test"])
    declared |= _declared(pyproject["build-system"]["requires"])
    assert _undeclared(_imports(TOOLING), declared) == []


def _locked(name: str) -> set[str]:
    """The distribution names pinned in a lock file."""
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return {_normal(line.split("==")[0]) for line in lines if "==" in line and not line.startswith("#")}


def test_lock_files_hold_every_declared_package() -> None:
    """``tasks.py`` installs only from the locks: a dependency added to pyproject.toml needs ``tasks.py lock``."""
    project = _project()["project"]
    run, test = _declared(project["dependencies"]), _declared(project["optional-dependencies"]["test"])
    assert run - _locked("requirements.lock") == set()
    assert (run | test) - _locked("requirements-test.lock") == set()


def test_no_exact_pin_without_a_reason() -> None:
    """An ``==`` pin belongs in the lock files; in pyproject.toml it needs a comment on its line."""
    pyproject = _project()
    requirements = pyproject["project"]["dependencies"] + pyproject["build-system"]["requires"]
    requirements += [req for extra in pyproject["project"]["optional-dependencies"].values() for req in extra]
    lines = (ROOT / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    pinned = [req for req in requirements if "==" in req.split(";")[0]]
    unexplained = [req for req in pinned if not any(f'"{req}"' in line and "#" in line.split(f'"{req}"')[1]
                                                    for line in lines)]
    assert unexplained == []
