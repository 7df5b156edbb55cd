"""How many of the drift catalogue's drifts ``parity check`` tells apart, and by which path.

Records the parity scenarios from an honest fake by URL, then runs ``parity
check`` by URL against the same fake behind each drift of ``tests/drifts.py``
and prints, for each, the first path that differs (or that none did) and the
share caught. Slow (a fake and eight flows per drift: a minute or two), so it
is run by hand, not in command 2; the README quotes its last figures.

    .venv/bin/python scripts/parity_drifts.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mock_api import Settings, create_app
from mock_api.parity.runner import check_snapshots, open_target, record_snapshots
from mock_api.planning import Pace
from mock_api.server import LiveServer
from tests.drifts import catalogue

KEY, SECOND = "parity-key", "parity-key-2"
PACE = Pace("parity", queue_ms=30, base_ms=30, per_output_second_ms=(1, 1))


def _app() -> object:
    return create_app(Settings(random_seed=11, pace=PACE, api_keys=frozenset({KEY, SECOND})))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        snapshots = Path(folder)
        with LiveServer(_app()) as honest:  # type: ignore[arg-type]
            target = open_target(honest.url, KEY)
            try:
                record_snapshots(target, snapshots, budget_micros=0, say=lambda line: None)
            finally:
                target.close()
        drifts = catalogue(KEY, SECOND)
        caught = 0
        for drift in drifts:
            with LiveServer(drift.wrap(_app())) as server:  # type: ignore[arg-type]
                target = open_target(server.url, KEY)
                try:
                    results = check_snapshots(target, snapshots)
                finally:
                    target.close()
            failures = [d for r in results for d in r.failures]
            caught += bool(failures)
            first = (
                f"{failures[0].path}: {failures[0].recorded!r} -> {failures[0].now!r}"
                if failures
                else ""
            )
            verdict = "caught" if failures else "missed"
            print(f"{drift.name:<34} {verdict:<7} {first[:110]}", flush=True)
        print(
            f"parity check caught {caught} of {len(drifts)} drifts "
            f"({100 * caught / len(drifts):.0f} %)"
        )


if __name__ == "__main__":
    main()
