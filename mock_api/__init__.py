"""A stateful local stand-in for WaveSpeed AI's InfiniteTalk Fast video-to-video multi API.

The public API: build an app with :func:`create_app`, drive its time with a
:class:`ManualClock`, price jobs with :func:`quote`.
"""

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
from mock_api.store import MemoryStore

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
