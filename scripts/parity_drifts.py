"""How many of the drift catalogue's drifts ``parity check`` tells apart, and by which path.

Records the parity scenarios from an honest fake by URL, then runs ``parity
check`` by URL against the same fake behind each drift of ``tests/drifts.py``
and prints, for each, the first path that differs (or that none did) and the
share caught. Slow (a fake and every scenario per drift, two drifts at a time:
a few minutes), so it is run by hand, not in command 2; the README quotes its
last figures.

    .venv/bin/python scripts/parity_drifts.py [--only DRIFT ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mock_api import Settings, create_app
from mock_api.clock import OffsetClock
from mock_api.parity.runner import check_snapshots, open_target, record_snapshots
from mock_api.planning import Pace
from mock_api.server import LiveServer
from tests.drifts import catalogue

KEY, SECOND = "parity-key", "parity-key-2"
#: Slow enough that the balance read just after a submission comes before the job ends
#: (what tells a charge at acceptance from one at completion), fast enough for 72 runs.
PACE = Pace("parity", queue_ms=300, base_ms=100, per_output_second_ms=(1, 1))


def _app() -> object:
    return create_app(
        Settings(random_seed=11, pace=PACE, api_keys=frozenset({KEY, SECOND})), clock=OffsetClock()
    )


def _check(args: tuple[int, str]) -> tuple[str, str]:
    index, snapshots = args
    drift = catalogue(KEY, SECOND)[index]
    with LiveServer(drift.wrap(_app())) as server:  # type: ignore[arg-type]
        target = open_target(server.url, KEY, second_api_key=SECOND)
        try:
            results = check_snapshots(target, Path(snapshots))
        finally:
            target.close()
    failures = [d for r in results for d in r.failures]
    if not failures:
        return drift.name, ""
    first = failures[0]
    return drift.name, f"{first.path}: {first.recorded!r} -> {first.now!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="drift names")
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    drifts = catalogue(KEY, SECOND)
    chosen = [i for i, d in enumerate(drifts) if not options.only or d.name in options.only]
    with tempfile.TemporaryDirectory() as folder:
        with LiveServer(_app()) as honest:  # type: ignore[arg-type]
            target = open_target(honest.url, KEY, second_api_key=SECOND)
            try:
                record_snapshots(target, Path(folder), budget_micros=0, say=lambda line: None)
            finally:
                target.close()
        caught = 0
        with ProcessPoolExecutor(options.workers) as pool:
            for name, first in pool.map(_check, [(i, folder) for i in chosen]):
                caught += bool(first)
                verdict = "caught" if first else "missed"
                print(f"{name:<34} {verdict:<7} {first[:110]}", flush=True)
    print(
        f"parity check caught {caught} of {len(chosen)} drifts ({100 * caught / len(chosen):.0f} %)"
    )


if __name__ == "__main__":
    main()
