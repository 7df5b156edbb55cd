"""Hints that make an answer teach: "did you mean", where to look, what to send instead.

A 400 that says ``field "left_audio" is required`` to a client that sent
``left_audi`` leaves its author comparing strings by eye; naming the near miss
saves the minutes. Everything here is worded for a person reading the answer,
and is pure: the routes and the validator call it with what they already have.

Near misses are :func:`difflib.get_close_matches` at its own default cutoff
(a ratio of 0.6): ``left_audi`` -> ``left_audio`` (0.95), ``oder`` -> ``order``
(0.89), ``promt`` -> ``prompt`` (0.91), while ``colour`` or ``x`` match nothing.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Iterable, Sequence

#: How many ignored fields ``X-Mock-Warning`` and the log line name (then: how many more).
MAX_WARNED_FIELDS = 10
#: How many unknown names of one object are compared with the known ones: a body may hold
#: 100,000 names, and each comparison costs microseconds.
MAX_HINTED_NAMES = 50
#: How much of a client's field name a header or message shows (characters).
MAX_SHOWN_NAME = 64
#: The response header that says what the fake ignored, where the answer itself cannot.
WARNING_HEADER = "X-Mock-Warning"


#: How close a path must be to a served one to be called its misspelling. Paths share
#: long prefixes (``/api/v3/``), which lift every ratio: ``/api/v3/nope`` is 0.77 from
#: ``/api/v3/models``, while ``/api/v3/uploads`` is 0.97 from ``/api/v3/upload``.
PATH_CUTOFF = 0.9


def closest(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate ``name`` most likely misspells, or ``None`` when none is close."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
    return found[0] if found and found[0] != name else None


def shown(name: str) -> str:
    """``name`` as a JSON string, cut to :data:`MAX_SHOWN_NAME` characters: safe in any
    message, and in a header (ASCII only, no line breaks)."""
    cut = name if len(name) <= MAX_SHOWN_NAME else name[:MAX_SHOWN_NAME] + "..."
    return json.dumps(cut)


def models_hint(model: str, served: Iterable[str]) -> str:
    """Where the models are listed, and the served model id ``model`` most likely misspells."""
    match = closest(model, served)
    guess = f"; did you mean {shown(match)}?" if match else ""
    return f"(GET /api/v3/models lists them{guess})"


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` when ``name`` is close to one of ``candidates``, else ``""``."""
    match = closest(name, candidates)
    return f" (did you mean {shown(match)}?)" if match else ""


def misspellings(missing: str, present: Iterable[str], known: Collection[str]) -> list[str]:
    """The fields of ``present`` that are not ``known`` and whose closest known field is
    ``missing``: a required field the client most likely sent misspelt."""
    unknown = [name for name in present if name not in known][:MAX_HINTED_NAMES]
    return [name for name in unknown if closest(name, known) == missing]


def required_reason(
    missing: str, present: Iterable[str], known: Collection[str], holder: str = "the body"
) -> str:
    """``is required``, naming a near miss of ``missing`` that ``holder`` has, if any."""
    near = misspellings(missing, present, known)
    if not near:
        return "is required"
    return f"is required ({holder} has {shown(near[0])}: did you mean {shown(missing)}?)"


def not_allowed_reasons(names: Sequence[str], known: Sequence[str]) -> list[str]:
    """``is not allowed`` for each of ``names``, with the field each most likely misspells,
    or else every field the object may have (for the first :data:`MAX_HINTED_NAMES`)."""
    reasons = []
    for index, name in enumerate(names):
        if index >= MAX_HINTED_NAMES or not known:
            reasons.append("is not allowed")
            continue
        hint = did_you_mean(name, known)
        reasons.append(f"is not allowed{hint or ' (the fields are ' + ', '.join(known) + ')'}")
    return reasons


def ignored_field_notes(
    model: str,
    unknown: Sequence[str],
    fields: Collection[str],
    elsewhere: Collection[str] = (),
    prefix: str = "",
) -> list[str]:
    """One note per field of a submission the fake ignores: what happened, and the field
    of the model it most likely misspells. ``elsewhere``: the inputs of the other models
    served, which are sent on purpose (``"mask_image": ""`` to every model) and are no
    one's misspelling. ``prefix``: where the fields are (``inputs.`` in a quote)."""
    notes = []
    for name in unknown[:MAX_WARNED_FIELDS]:
        if name in elsewhere:
            hint = " (other models take it, this one does not)"
        else:
            hint = did_you_mean(name, fields)
        notes.append(f"ignored field {shown(prefix + name)}: not an input of {model}{hint}")
    others = len(unknown) - len(notes)
    if others > 0:
        notes.append(f"and {others} other ignored fields")
    return notes


def warning_header(notes: Sequence[str]) -> str:
    """The value of ``X-Mock-Warning``: the notes, in ASCII on one line."""
    return "; ".join(notes)


def content_type_reason(media_type: str, body: bytes) -> str:
    """Why a body sent as ``media_type`` (``""``: no Content-Type) is refused, and what to
    send instead."""
    if not media_type:
        sent = "is missing"
    elif media_type == "application/x-www-form-urlencoded":
        sent = f"is {media_type} (a form, as curl -d and HTML forms send)"
    else:
        sent = f"is {shown(media_type)}"
    advice = "this API takes a JSON body, sent with Content-Type: application/json"
    if body.lstrip()[:1] in (b"{", b"["):
        advice += " (the body looks like JSON: only the header is wrong)"
    return f"{sent}: {advice}"
