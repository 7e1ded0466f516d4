"""Package build hooks: the message catalogues, and the rating's hot path compiled by mypyc.

1. Every build compiles the message catalogues (``.po`` -> ``.mo``) into the package. The ``.mo`` files
   are not kept in git (``tasks.py`` compiles them in a checkout). Without this hook a wheel, or a plain
   ``pip install .``, would carry none, and every page would fall back to English. An editable install
   serves the source tree, so there the catalogues are compiled in place.
2. The modules listed in ``pyproject.toml`` under ``[tool.rewards] compiled`` (the CSV reader and the
   rating engine, which touch each of the 9 million behaviour rows of a monthly compute) are compiled
   to C extensions by mypyc, from the same typed Python: a ``.so`` beside each ``.py``, which Python
   imports in its place. A build without a C compiler or Python's headers, one where mypyc fails (a type
   error), or one with ``REWARDS_COMPILE=0`` installs the same modules as plain Python, with a warning
   (``pip install -v`` shows it): the results are the same, only slower (``docs/benchmarks.md``). An
   editable install compiles in place, and a build that does not compile removes the compiled copies
   an earlier one left there. After editing one of these files, reinstall (``python3 tasks.py setup``
   or ``pip install --no-deps -e .``); pytest refuses a compiled module older than its source.

Everything else about the package is in ``pyproject.toml``.
"""

from __future__ import annotations

import os
import sys
import tomllib
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py


def compile_catalogue(po: Path, mo: Path) -> None:
    """Compile one catalogue with Babel (fuzzy entries included, as ``tasks.py`` compiles them)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalogue = read_po(source)
    mo.parent.mkdir(parents=True, exist_ok=True)
    with mo.open("wb") as target:
        write_mo(target, catalogue, use_fuzzy=True)


class BuildWithCatalogues(build_py):
    """``build_py`` that also compiles each package's ``translations/<lang>/LC_MESSAGES/*.po``."""

    def run(self) -> None:
        super().run()
        editable = getattr(self, "editable_mode", False)
        for package in self.packages or []:
            folder = Path(self.get_package_dir(package)) / "translations"
            for po in sorted(folder.glob("*/LC_MESSAGES/*.po")):
                relative = po.relative_to(folder).with_suffix(".mo")
                target_folder = folder if editable else Path(self.build_lib, *package.split("."), "translations")
                compile_catalogue(po, target_folder / relative)
                self.announce(f"compiled {po} -> {target_folder / relative}", level=2)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        """The built files, the compiled catalogues among them (so an install records them)."""
        outputs = list(super().get_outputs(include_bytecode))
        if getattr(self, "editable_mode", False):
            return outputs
        for package in self.packages or []:
            folder = Path(self.get_package_dir(package)) / "translations"
            for po in sorted(folder.glob("*/LC_MESSAGES/*.po")):
                mo = Path(self.build_lib, *package.split("."), "translations",
                          po.relative_to(folder).with_suffix(".mo"))
                if os.fspath(mo) not in outputs:
                    outputs.append(os.fspath(mo))
        return outputs


ROOT = Path(__file__).resolve().parent
GROUP = "rewards_compiled"  # mypyc's shared library: rewards_compiled__mypyc.<suffix>, beside the packages


def compiled_sources() -> list[str]:
    """The modules pyproject.toml lists under ``[tool.rewards] compiled``."""
    return list(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["rewards"]["compiled"])


def remove_compiled_in_tree() -> None:
    """Delete the compiled copies an earlier editable build left in the source tree (Python imports a
    ``.so`` before its ``.py``): a build that does not compile must leave the Python modules in charge."""
    for source in [*map(Path, compiled_sources()), Path(GROUP + "__mypyc.py")]:
        for suffix in EXTENSION_SUFFIXES:
            built = ROOT / source.with_name(source.stem + suffix)
            if built.exists():
                built.unlink()
                print(f"removed {built.relative_to(ROOT)}", file=sys.stderr)


def compiled_extensions() -> list[Extension]:
    """mypyc's extensions for the listed modules; none when mypyc is off, missing or fails (then Python)."""
    if os.environ.get("REWARDS_COMPILE", "1") == "0":
        remove_compiled_in_tree()
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # a build without build isolation and without mypy: plain Python
        print("warning: mypyc is not installed; the rating engine stays plain Python", file=sys.stderr)
        remove_compiled_in_tree()
        return []
    # The build environment has no Flask or SQLAlchemy: the compiled modules import neither, and what
    # they reach through their parent packages is taken as untyped. Type errors are lint's business
    # (pyproject.toml's strict settings); here only these modules are checked.
    options = ["--config-file=", "--ignore-missing-imports", "--follow-imports=silent"]
    try:
        return mypycify([*options, *compiled_sources()], opt_level="3", group_name=GROUP)
    except SystemExit:  # mypy's own report is already printed
        print("warning: mypyc could not compile the rating engine; it stays plain Python", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 (a mypyc failure must not stop the install: Python runs the same code)
        print(f"warning: mypyc failed ({exc!r}); the rating engine stays plain Python", file=sys.stderr)
    remove_compiled_in_tree()
    return []


class BuildCompiled(build_ext):
    """``build_ext`` that keeps mypyc's modules all or none.

    Each module's small extension only loads the group's shared library, so a module built without
    it would fail to import. The outputs are removed before the build (an editable build writes into
    the source tree, where a copy from an earlier build must not survive a failed one), every C build
    may fail (no compiler, no Python headers: a warning), and if any did, the others are removed too.
    """

    def run(self) -> None:
        if self.inplace or getattr(self, "editable_mode", False):
            remove_compiled_in_tree()
        outputs = [Path(self.get_ext_fullpath(extension.name)) for extension in self.extensions]
        for output in outputs:
            output.unlink(missing_ok=True)
        for extension in self.extensions:
            extension.optional = True  # a failed C build warns instead of failing the install
        super().run()
        if not all(output.exists() for output in outputs):
            print("warning: the C build failed; the rating engine stays plain Python", file=sys.stderr)
            for output in outputs:
                output.unlink(missing_ok=True)


setup(
    cmdclass={"build_py": BuildWithCatalogues, "build_ext": BuildCompiled},
    ext_modules=compiled_extensions(),
)
