"""The optional extras, what each brings, and the error that names a missing one.

Why this exists: ``pip install wavespeed-mock`` is light (the fake, ``serve``,
``price``); the extras add what only some users need. A command run without its
extra must say which one to install (``pip install "wavespeed-mock[verify]"``),
never show an import traceback or an empty report.

==========  ==========================================  ==============================
extra       for                                         brings (by import name)
==========  ==========================================  ==============================
``pytest``  the plugin's fixtures in one's own tests    pytest
``verify``  ``verify``, ``parity``, ``pytest contracts/``  pytest, hypothesis,
                                                        schemathesis, requests, av
==========  ==========================================  ==============================

(``dev``, ``postgres`` and ``mutation`` are for this repository and ``serve --db
postgresql://``; see ``pyproject.toml``.)
"""

from __future__ import annotations

import importlib
import importlib.util

__all__ = ["EXTRAS", "MissingExtra", "install_command", "require"]

#: The modules each extra brings that this package imports, by import name. Every
#: one is also a requirement of that extra in ``pyproject.toml`` (tests/test_extras.py).
EXTRAS: dict[str, tuple[str, ...]] = {
    "pytest": ("pytest",),
    "verify": ("pytest", "hypothesis", "schemathesis", "requests", "av"),
}


def install_command(extra: str) -> str:
    """What to type: ``pip install "wavespeed-mock[verify]"``."""
    return f'pip install "wavespeed-mock[{extra}]"'


class MissingExtra(ImportError):
    """Something needs an extra that is not (wholly) installed: the message names it."""

    def __init__(self, extra: str, purpose: str, missing: str) -> None:
        super().__init__(
            f"{purpose} needs the {extra} extra ({missing} is missing): {install_command(extra)}",
            name=missing,
        )
        self.extra = extra


def require(extra: str, purpose: str, *, load: bool = True) -> None:
    """Import what ``extra`` brings, or raise :class:`MissingExtra` naming it.

    Imported, not only looked for: a package that is there but broken (one of its own
    dependencies missing) fails here too, with the name of what is missing. With
    ``load`` off each is only looked for (no import: where it is checked on every
    start-up, as the contract suite's conftest is in each pytest worker).
    """
    for module in EXTRAS[extra]:
        try:
            if load:
                importlib.import_module(module)
            elif importlib.util.find_spec(module) is None:
                raise MissingExtra(extra, purpose, module)
        except MissingExtra:
            raise
        except ImportError as exc:
            raise MissingExtra(extra, purpose, exc.name or module) from None
