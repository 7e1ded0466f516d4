"""Package build hook: every build compiles the message catalogues (``.po`` -> ``.mo``) into the package.

The ``.mo`` files are not kept in git (``tasks.py`` compiles them in a checkout). Without this hook a
wheel, or a plain ``pip install .``, would carry none, and every page would fall back to English. An
editable install serves the source tree, so there the catalogues are compiled in place. Everything
else about the package is in ``pyproject.toml``.
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup
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


setup(cmdclass={"build_py": BuildWithCatalogues})
