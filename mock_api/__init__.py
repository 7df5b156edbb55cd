"""A stateful local stand-in for WaveSpeed AI's InfiniteTalk Fast video-to-video multi API.

The public API: build an app with :func:`create_app`, drive its time with a
:class:`ManualClock`, price jobs with :func:`quote`.
"""

import importlib
import typing

if typing.TYPE_CHECKING:
    from mock_api.app import create_app
    from mock_api.billing import BillingPolicy, Order, OverMaximum, Quote, format_usd, quote
    from mock_api.clock import Clock, ManualClock, OffsetClock, SystemClock
    from mock_api.errors import (
        InsufficientBalance,
        InvalidInput,
        MediaError,
        MockAPIError,
        NotFound,
        PayloadTooLarge,
        RequestError,
        TaskError,
        Unauthorized,
        ValidationFailed,
    )
    from mock_api.fetch import RemoteFetchPolicy
    from mock_api.lifecycle import Outcome, Plan, Status, status_at
    from mock_api.planning import PACES, Directive, OutcomeRates, Pace
    from mock_api.service import MockService
    from mock_api.settings import MODEL_ID, Settings
    from mock_api.storage.memory import MemoryStore

__all__ = [
    "MODEL_ID",
    "PACES",
    "BillingPolicy",
    "Clock",
    "Directive",
    "InsufficientBalance",
    "InvalidInput",
    "ManualClock",
    "MediaError",
    "MemoryStore",
    "MockAPIError",
    "MockService",
    "NotFound",
    "OffsetClock",
    "Order",
    "Outcome",
    "OutcomeRates",
    "OverMaximum",
    "Pace",
    "PayloadTooLarge",
    "Plan",
    "Quote",
    "RemoteFetchPolicy",
    "RequestError",
    "Settings",
    "Status",
    "SystemClock",
    "TaskError",
    "Unauthorized",
    "ValidationFailed",
    "create_app",
    "format_usd",
    "quote",
    "status_at",
]

#: Where each public name is defined. The names are imported on first use, not
#: with the package: pytest imports the package at start-up for the pytest11
#: plugin, before pytest-cov starts measuring, and ``wavespeed-mock price``
#: needs none of the server.
_HOMES = {
    "BillingPolicy": "mock_api.billing",
    "Clock": "mock_api.clock",
    "Directive": "mock_api.planning",
    "InsufficientBalance": "mock_api.errors",
    "InvalidInput": "mock_api.errors",
    "MODEL_ID": "mock_api.settings",
    "ManualClock": "mock_api.clock",
    "MediaError": "mock_api.errors",
    "MemoryStore": "mock_api.storage.memory",
    "MockAPIError": "mock_api.errors",
    "MockService": "mock_api.service",
    "NotFound": "mock_api.errors",
    "OffsetClock": "mock_api.clock",
    "Order": "mock_api.billing",
    "Outcome": "mock_api.lifecycle",
    "OutcomeRates": "mock_api.planning",
    "OverMaximum": "mock_api.billing",
    "PACES": "mock_api.planning",
    "Pace": "mock_api.planning",
    "PayloadTooLarge": "mock_api.errors",
    "Plan": "mock_api.lifecycle",
    "Quote": "mock_api.billing",
    "RemoteFetchPolicy": "mock_api.fetch",
    "RequestError": "mock_api.errors",
    "Settings": "mock_api.settings",
    "Status": "mock_api.lifecycle",
    "SystemClock": "mock_api.clock",
    "TaskError": "mock_api.errors",
    "Unauthorized": "mock_api.errors",
    "ValidationFailed": "mock_api.errors",
    "create_app": "mock_api.app",
    "format_usd": "mock_api.billing",
    "quote": "mock_api.billing",
    "status_at": "mock_api.lifecycle",
}


# Hidden from type checkers: they read the imports above, and a module-level
# __getattr__ would make them accept any name (a misspelt one included).
if not typing.TYPE_CHECKING:

    def __getattr__(name: str) -> typing.Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value  # found once, then an ordinary attribute
        return value


def __dir__() -> list[str]:
    return sorted(name for name in {*globals(), *__all__} if name not in ("importlib", "typing"))
