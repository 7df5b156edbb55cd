"""benchmarks/mutation.py's own rules: what it does not run, and its list of equivalents.

The run itself takes minutes and is not part of the suite; these check, in milliseconds,
that its score stays honest: only annotations and code outside the definitions under
test are left out, and every listed equivalent says why.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "mutation.py"


@pytest.fixture(scope="module")
def mutation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_mutation", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


SOURCE = """from __future__ import annotations
LIMIT = 300
def keep(a: int | None = 1) -> str | None:
    return a + 1
def other(x: int) -> int:
    return x * 2
"""


def test_annotations_are_not_run_and_defaults_and_bodies_are(mutation: ModuleType) -> None:
    reason = mutation.not_run_reason(SOURCE, None)
    assert reason((3, 16)) == mutation.ANNOTATION  # the | of int | None
    assert reason((3, 35)) == mutation.ANNOTATION  # the | of the return annotation
    assert reason((3, 25)) is None  # the default 1
    assert reason((4, 13)) is None  # the + of the body
    assert reason((2, 8)) is None  # LIMIT's 300


def test_evaluated_annotations_are_run(mutation: ModuleType) -> None:
    evaluated = SOURCE.removeprefix("from __future__ import annotations\n")
    assert mutation.not_run_reason(evaluated, None)((2, 16)) is None


def test_only_the_named_definitions_are_run(mutation: ModuleType) -> None:
    reason = mutation.not_run_reason(SOURCE, ("LIMIT", "keep"))
    assert reason((2, 8)) is None
    assert reason((4, 13)) is None
    assert reason((6, 13)) == mutation.OUT_OF_SCOPE  # other's *
    with pytest.raises(SystemExit, match="not all of"):
        mutation.not_run_reason(SOURCE, ("missing",))


def test_every_listed_equivalent_names_its_module_and_says_why(mutation: ModuleType) -> None:
    entries = mutation.load_equivalents()
    assert entries
    for entry in entries:
        assert entry["module"] in mutation.TARGETS
        assert len(entry["why"].split()) >= 5, entry


def test_a_listed_equivalent_that_is_killed_or_missing_is_reported(mutation: ModuleType) -> None:
    entry = {
        "module": "quotas",
        "function": "f",
        "operator": "core/Op",
        "before": "a < b",
        "after": "a <= b",
        "why": "",
    }
    killed = mutation.Score(
        "quotas", "quotas", [mutation.Mutant("f", "core/Op", "a < b", "a <= b", "killed")]
    )
    assert [c.split(":")[0] for c in mutation.apply_equivalents([killed], [entry])] == [
        "listed as equivalent but killed (remove it)"
    ]
    survived = mutation.Score(
        "quotas", "quotas", [mutation.Mutant("f", "core/Op", "a < b", "a <= b", "survived")]
    )
    assert list(mutation.apply_equivalents([survived], [entry])) == []
    assert (survived.equivalent, survived.score) == (1, 100.0)
    nothing = mutation.Score("quotas", "quotas", [])
    assert [c.split(":")[0] for c in mutation.apply_equivalents([nothing], [entry])] == [
        "listed as equivalent but no such mutant (stale)"
    ]


def test_the_score_leaves_out_equivalents_and_what_was_not_run(mutation: ModuleType) -> None:
    mutants = [
        mutation.Mutant("f", "op", "", "", "killed"),
        mutation.Mutant("f", "op", "", "", "killed"),
        mutation.Mutant("f", "op", "", "", "killed"),
        mutation.Mutant("f", "op", "", "", "survived"),
        mutation.Mutant("f", "op", "", "", "survived", equivalent=True),
        mutation.Mutant("f", "op", "", "", mutation.ANNOTATION),
    ]
    score = mutation.Score("quotas", "quotas", mutants)
    assert (score.run, score.equivalent, score.count("killed"), score.count("survived")) == (
        5,
        1,
        3,
        1,
    )
    assert score.score == 75.0  # 3 / (5 - 1)
