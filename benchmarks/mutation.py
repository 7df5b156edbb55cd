"""Mutation testing of the pure cores: would the tests notice if a rule were wrong?

Coverage says a line ran; a mutation run says whether some test fails when the line is
changed. This runs `cosmic-ray <https://cosmic-ray.readthedocs.io>`_ 8 (maintained,
MIT; chosen over mutmut 3 because mutmut 3 mutates only inside functions, and the
documented numbers live in module-level tables and dataclass defaults) over each core
module, running for each mutant only the fast tests that concern that module
(:data:`TARGETS`), and prints per module the mutants, how many the tests killed, how
many survived, how many are equivalent and the score::

    score = killed / (mutants - equivalent)

An equivalent mutant behaves exactly as the original for every input the program can
give it, so no test can kill it; each is listed, with the reason, in
``benchmarks/mutation_equivalents.toml``. The run fails (exit 1) when a module scores
under ``--floor`` (90 %), when the unmutated tests fail, or when an entry of that list
is stale: killed after all, or matching no mutant.

Two kinds of mutant are never run, and not counted:

* mutations inside annotations: every module here starts with ``from __future__
  import annotations``, so an annotation is a string nothing evaluates
  (``str | None`` made ``str + None`` changes nothing);
* in ``webhooks.py`` and ``http.py``, anything outside the signing and the bearer
  header (:attr:`Target.only`): the rest of those files is not a pure core.

Not part of ``scripts/check``: it starts one pytest per mutant, one after another on one
core (883 mutants, about 13 minutes on the project's shared 2-core machine; the figures
are in the README). Run it when a core module or its tests change::

    .venv/bin/python benchmarks/mutation.py                  # every module
    .venv/bin/python benchmarks/mutation.py billing quotas   # some of them
    .venv/bin/python benchmarks/mutation.py --json

cosmic-ray writes each mutant into the file on disk while its tests run, so the run
works on a copy of the repository in a temporary directory: the checkout, and anyone
running tests in it, never sees a mutant.

cosmic-ray's operators change operators, comparisons, numbers, booleans, ``not``,
``and``/``or``, decorators, exceptions and loops; they never swap one name for another
or edit a string, so a mutant such as ``ROUND_CEILING`` made ``ROUND_HALF_EVEN`` is
outside its reach (the tests kill that one too: ``tests/test_mutation_kills_billing.py``).
"""

from __future__ import annotations

import argparse
import ast
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cosmic_ray.work_db import WorkDB, use_db  # type: ignore[import-untyped]
from cosmic_ray.work_item import WorkerOutcome, WorkResult  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parent.parent
EQUIVALENTS = Path(__file__).resolve().parent / "mutation_equivalents.toml"
#: Seconds one mutant's tests may take before the mutant counts as killed (a hang).
TIMEOUT_SECONDS = 60
#: The selected tests need no fixture of conftest.py nor of the pytest plugin, and no
#: async runner: leaving those out (they import the whole app) halves each mutant's
#: pytest start-up, 0.9 s to 0.5 s. A test that needed them fails the baseline, loudly.
PYTEST = (
    "-x -q --no-header --noconftest -p no:cacheprovider -p no:xdist -p no:cov "
    "-p no:schemathesis -p no:anyio -p no:wavespeed_mock"
)
#: What the copy of the repository needs for the selected tests to run.
COPIED = ("mock_api", "tests", "fixtures", "contracts", "openapi.yaml", "pyproject.toml")
#: Shared by every module: the documented figures, stated by the tests themselves.
DOCUMENTED = "tests/test_documented_numbers.py"


@dataclass(frozen=True)
class Target:
    """One module under mutation, and the tests that decide about it."""

    label: str
    path: str
    tests: tuple[str, ...]
    #: Mutate only these top-level definitions (None: the whole module).
    only: tuple[str, ...] | None = None


TARGETS: dict[str, Target] = {
    "billing": Target(
        "billing",
        "mock_api/billing.py",
        ("tests/test_billing.py", DOCUMENTED, "tests/test_mutation_kills_billing.py"),
    ),
    "lifecycle": Target(
        "lifecycle",
        "mock_api/lifecycle.py",
        ("tests/test_lifecycle.py", DOCUMENTED, "tests/test_mutation_kills_lifecycle.py"),
    ),
    "planning": Target(
        "planning",
        "mock_api/planning.py",
        ("tests/test_lifecycle.py", DOCUMENTED, "tests/test_mutation_kills_planning.py"),
    ),
    "quotas": Target(
        "quotas",
        "mock_api/quotas.py",
        ("tests/test_quotas.py", DOCUMENTED, "tests/test_mutation_kills_quotas.py"),
    ),
    "accounts": Target(
        "accounts",
        "mock_api/accounts.py",
        (DOCUMENTED, "tests/test_mutation_kills_accounts.py"),
    ),
    "webhooks": Target(
        "webhooks (signing)",
        "mock_api/webhooks.py",
        ("tests/test_webhooks_signing.py", DOCUMENTED, "tests/test_mutation_kills_webhooks.py"),
        only=(
            *("SECRET_PREFIX", "SIGNATURE_VERSION", "TOLERANCE_SECONDS"),
            *("signing_key", "sign", "verify"),
        ),
    ),
    "http": Target(
        "http (bearer auth)",
        "mock_api/http.py",
        (DOCUMENTED, "tests/test_mutation_kills_http.py"),
        only=("api_key",),
    ),
}

OUT_OF_SCOPE = "not run: outside the definitions under test"
ANNOTATION = "not run: in an annotation, which nothing evaluates"


@dataclass
class Mutant:
    function: str  # the innermost definition, "" at module level
    operator: str
    before: str  # the changed line, stripped, before and after the mutation
    after: str
    outcome: str  # killed | survived | incompetent | not run: why
    equivalent: bool = False


@dataclass
class Score:
    name: str
    label: str
    mutants: list[Mutant] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(m.outcome == outcome and not m.equivalent for m in self.mutants)

    @property
    def run(self) -> int:
        return sum(not m.outcome.startswith("not run") for m in self.mutants)

    @property
    def equivalent(self) -> int:
        return sum(m.equivalent for m in self.mutants)

    @property
    def score(self) -> float:
        judged = self.run - self.equivalent
        return 100.0 * self.count("killed") / judged if judged else 100.0

    def survivors(self) -> list[Mutant]:
        return [m for m in self.mutants if m.outcome == "survived" and not m.equivalent]

    def as_dict(self) -> dict[str, Any]:
        return {
            "module": self.name,
            "mutants": self.run,
            "killed": self.count("killed"),
            "survived": self.count("survived"),
            "equivalent": self.equivalent,
            "incompetent": self.count("incompetent"),
            "score": round(self.score, 1),
            "not_run": {
                "annotations": self.count(ANNOTATION),
                "out_of_scope": self.count(OUT_OF_SCOPE),
            },
            "seconds": round(self.seconds, 1),
            "survivors": [asdict(m) for m in self.survivors()],
        }


# -- which mutants are not run ---------------------------------------------------------

Position = tuple[int, int]  # line (from 1), column (from 0), as cosmic-ray and ast give


def _top_level_spans(tree: ast.Module, names: Sequence[str]) -> list[tuple[int, int]]:
    """First and last lines of the named top-level definitions and assignments."""
    spans = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = node.name
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name, first = node.targets[0].id, node.lineno
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name, first = node.target.id, node.lineno
        else:
            continue
        if name in names:
            spans.append((first, node.end_lineno or node.lineno))
    if len(spans) != len(names):
        raise SystemExit(f"not all of {list(names)} are top-level definitions")
    return spans


def _annotation_spans(tree: ast.Module) -> list[tuple[Position, Position]]:
    postponed = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )
    if not postponed:
        return []  # annotations are evaluated: their mutants are real
    annotations: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            annotations.append(node.returns)
    return [
        ((a.lineno, a.col_offset), (a.end_lineno or a.lineno, a.end_col_offset or 0))
        for a in annotations
    ]


def not_run_reason(source: str, only: Sequence[str] | None) -> Callable[[Position], str | None]:
    """Why a mutation at a position is not run, or None. (Columns are characters in
    cosmic-ray and UTF-8 bytes in ast: the same on these modules' ASCII lines.)"""
    tree = ast.parse(source)
    scope = None if only is None else _top_level_spans(tree, only)
    annotations = _annotation_spans(tree)

    def reason(at: Position) -> str | None:
        if scope is not None and not any(first <= at[0] <= last for first, last in scope):
            return OUT_OF_SCOPE
        if any(start <= at < end for start, end in annotations):
            return ANNOTATION
        return None

    return reason


def mark_not_run(session: Path, reason_at: Callable[[Position], str | None]) -> None:
    """Record the mutants not to run as skipped, with the reason (a cosmic-ray filter)."""
    skipped: dict[str, list[str]] = {}
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in db.pending_work_items:
            reason = reason_at(tuple(item.mutations[0].start_pos))
            if reason is not None:
                skipped.setdefault(reason, []).append(item.job_id)
        for reason, job_ids in skipped.items():
            db.set_multiple_results(
                job_ids, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=reason)
            )


# -- running cosmic-ray ----------------------------------------------------------------


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def copy_repository(into: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "node_modules", ".hypothesis")
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        else:
            shutil.copy2(source, into / name)
    # Compiled once, so each mutant's pytest starts fast; the mutated module has no
    # .pyc (cosmic-ray runs the tests with PYTHONDONTWRITEBYTECODE=1).
    _run([sys.executable, "-m", "compileall", "-q", str(into / "mock_api")], into)


def _changed_lines(diff: str) -> tuple[str, str]:
    lines = diff.splitlines()
    minus = [ln[1:].strip() for ln in lines if ln[:1] == "-" and ln[:3] != "---"]
    plus = [ln[1:].strip() for ln in lines if ln[:1] == "+" and ln[:3] != "+++"]
    return " / ".join(minus), " / ".join(plus)


def mutate(name: str, target: Target, work: Path) -> Score:
    started = time.perf_counter()
    module = work / target.path
    for cached in module.parent.glob(f"__pycache__/{module.stem}.*.pyc"):
        cached.unlink()
    command = f"{shlex.quote(sys.executable)} -m pytest {PYTEST} {' '.join(target.tests)}"
    config = work / f"mutation-{name}.toml"
    session = work / f"mutation-{name}.sqlite"
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(str(module))}\n"
        f"timeout = {TIMEOUT_SECONDS}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n"
        '[cosmic-ray.distributor]\nname = "local"\n'
    )

    def step(*args: str) -> None:
        done = _run([_tool("cosmic-ray"), *args], work)
        if done.returncode != 0:
            what = "the unmutated tests fail" if args[0] == "baseline" else f"cosmic-ray {args[0]}"
            raise SystemExit(f"{name}: {what}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")

    step("init", str(config), str(session))
    mark_not_run(session, not_run_reason(module.read_text(), target.only))
    step("baseline", str(config))
    step("exec", str(config), str(session))
    score = Score(name, target.label)
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            [mutation] = item.mutations
            if result.worker_outcome == WorkerOutcome.NO_TEST:
                continue  # cosmic-ray found nothing to change at that occurrence
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                outcome = str(result.output)
            else:
                outcome = str(result.test_outcome.value if result.test_outcome else "incompetent")
            before, after = _changed_lines(result.diff or "")
            score.mutants.append(
                Mutant(
                    mutation.definition_name or "", mutation.operator_name, before, after, outcome
                )
            )
    score.seconds = time.perf_counter() - started
    return score


# -- the equivalents list --------------------------------------------------------------

KEY_FIELDS = ("module", "function", "operator", "before", "after")


def load_equivalents(path: Path = EQUIVALENTS) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = tomllib.loads(path.read_text()).get("equivalent", [])
    for entry in entries:
        missing = {*KEY_FIELDS, "why"} - entry.keys()
        if missing or not entry["why"].strip():
            raise SystemExit(f"{path.name}: {entry} lacks {sorted(missing) or ['a why']}")
        if entry["module"] not in TARGETS:
            raise SystemExit(f"{path.name}: {entry} names no module of {list(TARGETS)}")
    return entries


def apply_equivalents(scores: Sequence[Score], entries: list[dict[str, str]]) -> Iterator[str]:
    """Mark the listed equivalents; yield a complaint for each stale entry."""
    listed = {tuple(e[k] for k in KEY_FIELDS) for e in entries}
    matched: Counter[tuple[str, ...]] = Counter()
    for score in scores:
        for mutant in score.mutants:
            key = (score.name, mutant.function, mutant.operator, mutant.before, mutant.after)
            if key not in listed or mutant.outcome.startswith("not run"):
                continue
            matched[key] += 1
            if mutant.outcome == "killed":
                yield f"listed as equivalent but killed (remove it): {key}"
            else:
                mutant.equivalent = True
    ran = {s.name for s in scores}
    for stale in sorted(listed):
        if stale[0] in ran and not matched[stale]:
            yield f"listed as equivalent but no such mutant (stale): {stale}"


# -- the report ------------------------------------------------------------------------


def report(scores: Sequence[Score], elapsed: float, floor: float, complaints: list[str]) -> str:
    head = (
        f"{'module':<20} {'mutants':>7} {'killed':>7} {'survived':>8} {'equivalent':>10} "
        f"{'score':>7}"
    )
    rows = [head, "-" * len(head)]
    for s in scores:
        verdict = "MET" if s.score >= floor else "MISSED"
        rows.append(
            f"{s.label:<20} {s.run:>7} {s.count('killed'):>7} {s.count('survived'):>8} "
            f"{s.equivalent:>10} {s.score:>6.1f}%  {verdict}"
        )
    not_run = sum(len(s.mutants) - s.run for s in scores)
    rows.append(
        f"\nscore = killed / (mutants - equivalent), floor {floor:g} %; "
        f"{sum(s.run for s in scores)} mutants run in {elapsed:.0f} s "
        f"({not_run} more not run: in annotations, or outside the definitions under test)"
    )
    for s in scores:
        for m in s.survivors():
            rows.append(
                f"survived: {s.name} {m.function or '<module>'} {m.operator}\n"
                f"    - {m.before}\n    + {m.after}"
            )
        if s.count("incompetent"):
            rows.append(f"{s.name}: {s.count('incompetent')} mutants could not be run")
    rows.extend(complaints)
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(TARGETS))
    parser.add_argument("--floor", type=float, default=90.0, help="lowest passing score, in %%")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    unknown = set(args.modules) - set(TARGETS)
    if unknown:
        parser.error(f"no module {sorted(unknown)}: choose from {', '.join(TARGETS)}")
    entries = load_equivalents()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="wavespeed-mutation-"))
    scores = []
    try:
        copy_repository(work)
        for name in args.modules or TARGETS:
            scores.append(mutate(name, TARGETS[name], work))
            done = scores[-1]
            print(f"{name}: {done.run} mutants run in {done.seconds:.0f} s", file=sys.stderr)
    finally:
        if args.keep:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    complaints = list(apply_equivalents(scores, entries))
    elapsed = time.perf_counter() - started
    if args.json:
        figures = {
            "seconds": round(elapsed, 1),
            "floor": args.floor,
            "modules": [s.as_dict() for s in scores],
            "complaints": complaints,
        }
        print(json.dumps(figures, indent=2))
    else:
        print(report(scores, elapsed, args.floor, complaints))
    return 1 if complaints or any(s.score < args.floor for s in scores) else 0


if __name__ == "__main__":
    sys.exit(main())
