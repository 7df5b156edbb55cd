"""Build-time inclusion of the contract: ``openapi.yaml`` into the wheel's ``mock_api``.

The repository keeps one ``openapi.yaml``, at its top, where people and tools
look for it. A wheel has no such top: this copies that very file into the
built package as ``mock_api/openapi.yaml`` (where ``mock_api.spec`` looks
first), so an installed package and a checkout read the same bytes and there is
no second copy to drift. Everything else is in ``pyproject.toml``.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SPEC = "openapi.yaml"


class BuildWithSpec(build_py):
    def run(self) -> None:
        super().run()
        # An editable install reads the top-level file in place (mock_api.spec).
        if not self.editable_mode:
            self.copy_file(SPEC, str(Path(self.build_lib, "mock_api", SPEC)))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs: list[str] = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        return [*outputs, str(Path(self.build_lib, "mock_api", SPEC))]


setup(cmdclass={"build_py": BuildWithSpec})
