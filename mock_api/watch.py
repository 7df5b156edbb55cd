"""``serve --rules FILE --watch``: the rules file is read again when it changes.

Editing the rules of a running server should be as quick as saving the file,
and a typo in it must not take away the rules a test run relies on. So a
background thread looks at the file's inode, size and modification time every
:data:`POLL_SECONDS`, and when they change it reads the file, checks it as
``serve`` does at start-up, and then either:

* puts its rules in place of those the file's last version added, atomically
  (:func:`mock_api.rules.replace_rules`): rules added through the control API
  stay, a rule whose definition did not change keeps its counters, a changed
  one starts again from 0; and logs what changed, or
* logs why it cannot (the file, the line, the rule and the field, as
  ``serve``'s own error says it) and changes nothing.

A poll costs one ``stat``, so no file-watching package is needed (``watchfiles``
comes with ``uvicorn[standard]`` only). A file that is still being written
(its size or time changed while it was read) and an empty file (an editor
that truncates before it writes) are read again at the next poll; a file that
is gone keeps the rules in force until it is back.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from mock_api.rules import FileRules, read_rules, replace_rules
from mock_api.service import MockService

__all__ = ["POLL_SECONDS", "Reload", "RulesWatcher", "Signature", "signature", "watching"]

LOGGER = logging.getLogger("wavespeed_mock.rules")
#: How often the file is looked at, in seconds.
POLL_SECONDS = 0.5

#: What identifies a version of the file without reading it: (inode, size, mtime in ns).
Signature = tuple[int, int, int]


def signature(path: Path) -> Signature | None:
    """The file's :data:`Signature` now; ``None`` if it cannot be seen."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


class Reload(enum.StrEnum):
    """What one look at the file did."""

    UNCHANGED = "unchanged"  # the same file, or one still being written
    RELOADED = "reloaded"  # its new rules are in force
    REFUSED = "refused"  # a bad edit (or no file): logged, the rules in force stay
    RETRY = "retry"  # the store could not take the change now: tried again next poll


class RulesWatcher:
    """Reloads ``path`` into ``service`` when it changes; :meth:`check` is one look.

    ``loaded`` are the rules the file held when ``serve`` read it, and ``seen``
    its :func:`signature` taken before that read (an edit made meanwhile is
    then read at the first poll).
    """

    def __init__(
        self,
        service: MockService,
        path: Path,
        loaded: FileRules,
        seen: Signature | None,
        *,
        interval: float = POLL_SECONDS,
    ) -> None:
        self.service = service
        self.path = path
        self.interval = interval
        self._owned = loaded.ids()  # the rules the file's version in force added, by section
        self._seen = seen
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one check at a time: the thread's, or a caller's

    def check(self) -> Reload:
        """Look at the file once; reload it if it changed since the last look."""
        with self._lock:
            return self._check()

    def _check(self) -> Reload:
        now = signature(self.path)
        if now == self._seen:
            return Reload.UNCHANGED
        if now is None:
            self._seen = None
            self._refuse("cannot be read (it is gone?)")
            return Reload.REFUSED
        if now[1] == 0:  # emptied to be written again: wait for its text
            return Reload.UNCHANGED
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self._seen = now
            self._refuse(f"cannot be read: {exc}")
            return Reload.REFUSED
        if signature(self.path) != now:  # written to while it was read: next time
            return Reload.UNCHANGED
        self._seen = now
        try:
            rules = read_rules(self.service.spec, text)
            done = replace_rules(self.service, self._owned, rules)
        except ValueError as exc:
            self._refuse(str(exc))
            return Reload.REFUSED
        except Exception:  # the store's trouble (busy, unreachable): the edit is good
            self._seen = None  # so read it again at the next poll
            LOGGER.exception(
                "%s: the rules could not be replaced now; trying again in %s s",
                self.path,
                self.interval,
                extra={"event": "rules_reload_retry", "fields": {"file": str(self.path)}},
            )
            return Reload.RETRY
        self._owned = rules.ids()
        counts = {
            "added": sum(len(d.added) for d in done.values()),
            "changed": sum(len(d.changed) for d in done.values()),
            "removed": sum(len(d.removed) for d in done.values()),
            "unchanged": sum(len(d.kept) for d in done.values()),
        }
        LOGGER.info(
            "%s reloaded: %d %s added, %d changed (their counters start again), "
            "%d removed, %d unchanged (their counters kept)",
            self.path,
            counts["added"],
            "rule" if counts["added"] == 1 else "rules",
            counts["changed"],
            counts["removed"],
            counts["unchanged"],
            extra={
                "event": "rules_reloaded",
                "fields": {
                    "file": str(self.path),
                    **counts,
                    "ids": {
                        section: {
                            "added": d.added,
                            "changed": d.changed,
                            "removed": d.removed,
                        }
                        for section, d in done.items()
                        if d.changes
                    },
                },
            },
        )
        return Reload.RELOADED

    def _refuse(self, reason: str) -> None:
        LOGGER.warning(
            "%s, %s; not reloaded: the rules in force stay",
            self.path,
            reason,
            extra={"event": "rules_refused", "fields": {"file": str(self.path), "reason": reason}},
        )

    # the thread

    def start(self) -> RulesWatcher:
        """Look every ``interval`` seconds on a daemon thread, until :meth:`stop`."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rules-watch", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # never end the watch: the next edit must still be read
                LOGGER.exception("%s: checking the rules file failed", self.path)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


@contextlib.contextmanager
def watching(watcher: RulesWatcher | None) -> Iterator[None]:
    """``watcher``'s thread runs while the block does; ``None``: nothing to watch."""
    if watcher is None:
        yield
        return
    watcher.start()
    try:
        yield
    finally:
        watcher.stop()
