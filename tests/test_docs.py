"""The docs site builds strictly, and what its pages say is what the project does.

The site (``mkdocs.yml``, ``docs/``) is built once per module, in-process through
MkDocs' own API (cheaper than ``mkdocs build`` in a subprocess, which starts Python too), into a
temporary directory: the built site is never committed. Strict means every
warning fails the build: a broken link or anchor, a page left out of the nav, an
included file that is missing. The code blocks of the pages run in
tests/test_readme.py; the numbers the pages state (how many checks ``verify``
runs, the parity scenarios, their prices and how many CI names, the models of the
family, the variables read) are compared here with what the code has, so none is
typed by hand and left to go stale. Benchmark figures come from the run itself
(``benchmarks/run.py --markdown``, through ``benchmarks/docs_page.py``).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import mkdocs.config as mkdocs_config
import pytest
import yaml
from mkdocs.commands.build import build
from mkdocs.exceptions import Abort

from mock_api.cli import main
from mock_api.contract.options import OPTIONS
from mock_api.models import REGISTRY
from mock_api.parity.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text()
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


class _Loader(yaml.SafeLoader):
    """mkdocs.yml read as plain YAML: MkDocs' ``!relative`` tag as its text."""


def _relative(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("!relative", _relative)


def _settings() -> Any:
    return yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)  # a SafeLoader


def _build(config_file: Path, site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Run from elsewhere than the config's folder, as `mkdocs build -f` may be: before,
    # pymdownx.snippets read its base_path (docs/) from the working directory, and the
    # build failed anywhere but the repository's root.
    monkeypatch.chdir(site.parent)
    monkeypatch.setenv("NO_MKDOCS_2_WARNING", "1")  # Material's banner about MkDocs 2
    config = mkdocs_config.load_config(
        config_file=str(config_file), site_dir=str(site), strict=True
    )
    build(config)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("site")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _build(ROOT / "mkdocs.yml", where, monkeypatch)
    return where


def _page(site: Path, page: str) -> str:
    """The built HTML of ``docs/<page>.md`` (directory URLs: ``<page>/index.html``)."""
    stem = page.removesuffix(".md")
    html = site / ("index.html" if stem == "index" else f"{stem.removesuffix('/index')}/index.html")
    return html.read_text()


def test_the_site_builds_strictly_and_fetches_nothing_from_elsewhere(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert (site / "index.html") in pages
    assert not (site / "benchmarks" / "latest").exists()  # included, not a page of its own
    for html in pages:
        text = html.read_text()
        # Fonts, scripts, styles and images all come from the site itself.
        assert "fonts.googleapis.com" not in text, html
        assert "fonts.gstatic.com" not in text, html
        external = re.findall(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", text)
        assert not external, (html, external)
    # The generated benchmark figures are on the page, not an include left unexpanded.
    benchmarks = _page(site, "benchmarks/index.md")
    assert "--8&lt;--" not in benchmarks
    assert "commit" in benchmarks


@pytest.mark.parametrize(
    ("index", "fails"),
    [
        ("# Home\n\nSee [the heading](other.md#a-heading).\n", False),
        ("# Home\n\nSee [nowhere](other.md#no-such-heading).\n", True),
        ("# Home\n\nSee [no page](missing.md).\n", True),
    ],
    ids=["good-anchor", "broken-anchor", "missing-page"],
)
def test_the_sites_settings_fail_a_broken_link_or_anchor(
    index: str, fails: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This repository's mkdocs.yml (its validation settings, its Markdown extensions) on a
    two-page site with MkDocs' own plain theme, which has far fewer files to copy than Material."""
    config = _settings()
    config["nav"] = ["index.md", "other.md"]
    config["theme"] = {"name": "mkdocs"}
    config.pop("exclude_docs", None)
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(index)
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## A heading\n")
    if fails:
        with pytest.raises(Abort):
            _build(tmp_path / "mkdocs.yml", tmp_path / "site", monkeypatch)
    else:
        _build(tmp_path / "mkdocs.yml", tmp_path / "site", monkeypatch)


def _nav_pages(nav: Any) -> Iterator[str]:
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from _nav_pages(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from _nav_pages(value)


def test_every_page_is_in_the_nav_once() -> None:
    config = _settings()
    listed = list(_nav_pages(config["nav"]))
    excluded = set(config.get("exclude_docs", "").split())
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")} - excluded
    assert sorted(listed) == sorted(pages)
    assert len(listed) == len(set(listed))


def test_the_readmes_links_resolve_and_land_on_headings(site: Path) -> None:
    targets = [t for t in LINK.findall(README) if not re.match(r"https?://|mailto:", t)]
    into_docs = [t for t in targets if t.startswith("docs/")]
    assert len(into_docs) >= 3  # the three paths each end on their page
    for target in targets:
        path, _, anchor = target.partition("#")
        assert (ROOT / path).is_file(), target
        if anchor:
            assert path.startswith("docs/"), target
            page = _page(site, path.removeprefix("docs/"))
            assert f'id="{anchor}"' in page, target


def _collected_checks() -> int:
    """How many checks the suite has: pytest's own collection of it, as verify counts them."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*command, "-p", "no:xdist", "-p", "no:pytest_cov", str(ROOT / "contracts")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    counted = re.search(r"^(\d+) tests? collected", done.stdout, re.M)
    assert counted, done.stdout[-2000:]
    return int(counted.group(1))


def test_the_number_of_checks_the_docs_show_is_verifys() -> None:
    page = (DOCS / "verify.md").read_text()
    first = re.findall(r"^wavespeed-mock verify: (\d+) checks against", page, re.M)
    tally = r"^(\d+) checks in … s: (\S+) passed, (\S+) failed, (\S+) skipped$"
    summary = re.findall(tally, page, re.M)
    assert first, "the example report of docs/verify.md lost its first line's count"
    assert summary, "the example reports of docs/verify.md lost their summaries' count"
    checks = _collected_checks()
    assert {int(n) for n in first} == {checks}
    for total, *parts in summary:
        assert int(total) == checks, summary
        if "…" not in parts:  # a clean run's tally adds up to every check
            assert sum(int(n) for n in parts) == checks, summary


def _variables() -> set[str]:
    """Every variable an option of the CLI or of the contract suite reads."""
    names = {option.env for option in OPTIONS if option.env}
    commands: list[click.Command] = [main]
    while commands:
        command = commands.pop()
        if isinstance(command, click.Group):
            commands.extend(command.commands.values())
        for param in command.params:
            if isinstance(param, click.Option) and isinstance(param.envvar, str):
                names.add(param.envvar)
    return names


def test_every_variable_is_documented_and_every_documented_one_is_read() -> None:
    page = (DOCS / "environment.md").read_text()
    documented = set(re.findall(r"`(WAVESPEED_[A-Z0-9_]+)`", page))
    assert _variables() <= documented, _variables() - documented
    # A name on any page, or in the README, that no code reads any more is a stale one.
    sources = "\n".join(
        path.read_text()
        for folder in ("mock_api", "contracts", "tests", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "test_docs.py"
    )
    pages = [README, *(p.read_text() for p in DOCS.rglob("*.md"))]
    named = {name for text in pages for name in re.findall(r"\bWAVESPEED_[A-Z0-9_]*[A-Z0-9]", text)}
    assert {n for n in named - _variables() if f'"{n}' not in sources} == set()


def test_the_parity_page_counts_the_snapshots_there_are() -> None:
    page = (DOCS / "parity.md").read_text()
    snapshots = sorted((ROOT / "fixtures" / "parity").glob("*.json"))
    real = [p for p in snapshots if '"validated_against_real": true' in p.read_text()]
    assert len(snapshots) == len(SCENARIOS)
    assert f"{len(SCENARIOS)} fixed scenarios" in page
    assert f"all {len(SCENARIOS)} of them" in page
    assert f"**{len(real)} of {len(SCENARIOS)} scenarios**" in page
    assert f"the other {len(SCENARIOS) - len(real)} were recorded from the fake" in page
    never = [s.name for s in SCENARIOS if s.needs_control]  # the service cannot be told these
    said = " ".join(page.split())
    assert f"Of them, {len(never)} ({', '.join(f'`{n}`' for n in never)}) can never be" in said
    # How many drifts CI's parity test names, one or two per scenario: its NAMED table.
    module = ast.parse((ROOT / "tests" / "test_parity.py").read_text())
    named = next(
        node.value
        for node in module.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and any(getattr(t, "id", None) == "NAMED" for t in _targets(node))
    )
    assert isinstance(named, ast.Dict)
    assert f"CI runs {len(named.keys)} of them, one or two per scenario" in said


def _targets(node: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


def _docs_page_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_page", ROOT / "benchmarks" / "docs_page.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_figures_come_from_the_run_with_their_commit_and_machine() -> None:
    docs_page = _docs_page_module()
    report = {
        "environment": {
            "cpus": 2,
            "platform": "Linux-6.1-x86_64",
            "python": "3.11.7",
            "loadavg_start": "0.10 0.20 0.30",
            "loadavg_end": "1.00 0.90 0.80",
            "wall_s": 241.5,
            "load_generator": "wrk",
        },
        "details": {
            "side_by_side": [
                ["GET result, req/s", "h11 + asyncio"],
                ["bare Starlette", "8,476"],
                ["fake, memory", "7,634 (0.90x bare)"],
            ]
        },
        "rows": [
            {
                "group": "GET result over HTTP on h11 + asyncio, concurrency 16",
                "name": "fake, memory: throughput",
                "value": 7634.2,
                "unit": "req/s",
                "versus": "0.90x bare",
                "target": ">= 0.5x bare",
                "status": "MET",
                "note": "",
            }
        ],
    }
    text = docs_page.render(report, measured_on="062735f", when="2026-12-07 10:00 UTC")
    first = text.splitlines()[0]
    assert "commit `062735f`, 2026-12-07 10:00 UTC" in first
    assert "2 CPUs, Linux-6.1-x86_64, Python 3.11.7" in first
    assert "241.5 s in all" in first
    assert "| fake, memory | 7,634 (0.90x bare) |" in text
    assert "| fake, memory: throughput | 7,634 req/s | 0.90x bare | >= 0.5x bare | MET |" in text
    assert "Targets: 1 met, 0 missed." in text
    # And the page shows that file, which the run writes (run.py --markdown).
    assert '--8<-- "benchmarks/latest.md"' in (DOCS / "benchmarks" / "index.md").read_text()
    assert "--markdown" in (ROOT / "benchmarks" / "run.py").read_text()


def _usd(micros: int) -> str:
    """Dollars as the docs write them: cents at least, more digits only when there are more."""
    dollars, cents = divmod(micros, 1_000_000)
    return f"${dollars}." + f"{cents:06d}".rstrip("0").ljust(2, "0")


def test_the_parity_page_prices_each_scenario_as_the_run_does() -> None:
    """The cost column and the totals `parity record` plans, from each scenario's own cost."""
    page = (DOCS / "parity.md").read_text()
    by_name = {scenario.name: scenario for scenario in SCENARIOS}
    table = page.split("| scenarios | what they show | cost on the real service |", 1)[1]
    priced: dict[str, int] = {}
    for row in re.findall(r"^\| (`.*?) \|.*\| (.*?) \|$", table.split("\n\n", 1)[0], re.M):
        names = re.findall(r"`([a-z0-9-]+)`", row[0])
        cost = row[1]
        if cost == "free" or cost.startswith("the fake's own"):
            amounts = [0] * len(names)
        elif cost.endswith(" each"):
            amounts = [round(float(cost[1:-5]) * 1_000_000)] * len(names)
        else:
            amounts = [round(float(part.strip()[1:]) * 1_000_000) for part in cost.split(",")]
        assert len(amounts) == len(names), row
        priced.update(zip(names, amounts, strict=True))
    assert set(priced) == set(by_name)
    for name, micros in priced.items():
        scenario = by_name[name]
        assert micros == (0 if scenario.needs_control else scenario.cost_micros), name
    paid = [s for s in SCENARIOS if not s.needs_control and not s.optional]
    full = sum(s.cost_micros for s in paid)
    one_key = sum(s.cost_micros for s in paid if not s.needs_second_key)
    optional = full + sum(s.cost_micros for s in SCENARIOS if s.optional and not s.needs_control)
    said = f"({_usd(full)} with a second key and a reachable receiver; {_usd(one_key)} without"
    assert said in " ".join(page.split()), said
    assert f"{_usd(optional)} with the optional 605 s job" in " ".join(page.split())


WORDS = {6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}


def test_the_family_pages_list_every_model_served_and_count_them() -> None:
    served = [model.id for model in REGISTRY.models]
    billing = (DOCS / "billing.md").read_text()
    listed = re.findall(r"^\| `(wavespeed-ai/[a-z0-9/-]+)`", billing, re.M)
    assert sorted(listed) == sorted(served)
    assert f"The fake serves the {WORDS[len(served)]} models the real catalogue lists" in billing
    api = (DOCS / "api.md").read_text()
    assert f"the {WORDS[len(served) - 1]} other models of the family" in api
