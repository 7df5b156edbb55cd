"""Three ``wavespeed-mock serve`` instances on one PostgreSQL database, at scale.

A load balancer may send any request to any instance (``serve --db postgresql://...``,
README "State that survives restarts"): every acknowledged job is there once, money is
exact to the micro-dollar, a rule's ``times`` holds across instances, each webhook goes
out once, and an instance killed with ``kill -9`` loses nothing it acknowledged.

The instances of the first four tests are started once for the module, on a database of
their own, and reset before each test (``POST /_mock/reset``); the crash test starts its
own, since it kills one. Prices are stated here from the README's "Billing" table:
$0.015 per second of speech, at least 5 s, at most 600 s. The tracks are the fake's own
silence samples of whole seconds, so the 50 ms padding tolerance never moves a price.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest

from tests.helpers import SUBMIT, auth
from tests.live import ServerProcess
from tests.pgfixtures import PgServer
from tests.receiver import Receiver, running_receiver, signed_as_documented

# Untraced (no_cover): the fake's code here runs in the three serve processes, which
# coverage does not follow; tracing this process only slowed its HTTP client (8 s of CPU).
pytestmark = [pytest.mark.anyio, pytest.mark.no_cover]

RATE_MICROS = 15_000  # $0.015 per billed second
MIN_SECONDS, MAX_SECONDS = 5, 600
OPENING_USD = 40  # serve --initial-balance: what every new account starts with
INSTANCES = 3


def price_micros(left: int, right: int, order: str = "meanwhile") -> int:
    """The README's rule, for tracks of whole seconds."""
    spoken = max(left, right) if order == "meanwhile" else left + right
    return RATE_MICROS * min(MAX_SECONDS, max(MIN_SECONDS, spoken))


def micros(usd: object) -> int:
    """An amount as the API writes it (a JSON number or a decimal string) in micro-dollars;
    it must be a whole number of them."""
    amount = Decimal(str(usd)) * 1_000_000
    assert amount == amount.to_integral_value(), usd
    return int(amount)


@dataclass(frozen=True)
class Plan:
    """One submission: which account, through which instance, with which tracks."""

    key: str
    instance: int
    left: int = 3
    right: int = 2
    order: str = "meanwhile"

    @property
    def cost(self) -> int:
        return price_micros(self.left, self.right, self.order)

    def body(self, base: str) -> dict[str, Any]:
        # The inputs name the instance the submission goes to: it reads them from itself.
        samples = f"{base}/media/samples"
        return {
            "video": f"{samples}/video.mp4?seconds=10",
            "left_audio": f"{samples}/silence.wav?seconds={self.left}",
            "right_audio": f"{samples}/silence.wav?seconds={self.right}",
            "order": self.order,
        }


class Cluster:
    """Instances on one database, and an HTTP client for each."""

    def __init__(self, servers: Sequence[ServerProcess]) -> None:
        self.servers = list(servers)
        self.http: list[httpx.AsyncClient] = []

    @asynccontextmanager
    async def connected(self, connections: int = 64) -> AsyncIterator[Cluster]:
        self.http = [
            httpx.AsyncClient(
                base_url=server.url, timeout=30, limits=httpx.Limits(max_connections=connections)
            )
            for server in self.servers
        ]
        try:
            yield self
        finally:
            for client in self.http:
                await client.aclose()
            self.http = []

    async def data(self, instance: int, method: str, path: str, **kwargs: Any) -> Any:
        """``data`` of a 200 answer from one instance."""
        response = await self.http[instance].request(method, path, **kwargs)
        assert response.status_code == 200, (self.servers[instance].url, response.text)
        return response.json()["data"]

    async def control(self, instance: int, method: str, route: str, body: Any = None) -> Any:
        return await self.data(instance, method, f"/_mock{route}", json=body)

    async def submit(self, plan: Plan, params: dict[str, str] | None = None) -> httpx.Response:
        return await self.http[plan.instance].post(
            SUBMIT,
            json=plan.body(self.servers[plan.instance].url),
            params=params,
            headers=auth(plan.key),
        )

    async def jobs(self, instance: int, key: str) -> list[dict[str, Any]]:
        listed = await self.control(instance, "GET", f"/jobs?api_key={key}")
        jobs: list[dict[str, Any]] = listed["jobs"]
        return jobs

    async def ledger(self, instance: int, key: str) -> dict[str, Any]:
        ledger: dict[str, Any] = await self.control(instance, "GET", f"/ledger?api_key={key}")
        return ledger

    async def balance(self, instance: int, key: str) -> int:
        answer = await self.data(instance, "GET", "/api/v3/balance", headers=auth(key))
        return micros(answer["balance"])


@contextmanager
def running_cluster(db_url: str, *args: str) -> Iterator[Cluster]:
    """Start the instances on ``db_url`` at once (they create the schema together, under
    the store's lock), and stop them however the test ended."""
    servers = [ServerProcess("--db", db_url, *args) for _ in range(INSTANCES)]
    try:
        with ThreadPoolExecutor(INSTANCES) as pool:
            for started in [pool.submit(server.start, 60.0) for server in servers]:
                started.result()
        yield Cluster(servers)
    finally:
        for server in servers:
            server.close()


@pytest.fixture(scope="module")
def shared_cluster(pg_server: PgServer) -> Iterator[Cluster]:
    args = ("--pace", "instant", "--initial-balance", str(OPENING_USD))
    with pg_server.database() as url, running_cluster(url, *args) as cluster:
        yield cluster


@pytest.fixture
async def cluster(shared_cluster: Cluster) -> AsyncIterator[Cluster]:
    """The module's instances, forgetting every job, account, rule and delivery, with a
    flowing clock."""
    async with shared_cluster.connected() as cluster:
        await cluster.control(0, "POST", "/reset")
        await cluster.control(1, "POST", "/clock", {"action": "resume"})
        yield cluster


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/hook") as state:
        yield state


async def bounded(calls: Sequence[Any], in_flight: int) -> list[Any]:
    """Await every coroutine of ``calls``, at most ``in_flight`` at a time; their results
    in order."""
    gate = asyncio.Semaphore(in_flight)

    async def one(call: Any) -> Any:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def wait_for(
    check: Callable[[], Awaitable[Any]], timeout: float, what: Callable[[], str]
) -> Any:
    """What ``check()`` returns once it is true; ``what()`` says what was awaited."""
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what()}"
        await asyncio.sleep(0.05)
    return result


# 1. Submissions at scale: every acknowledged job once, every balance exact.

KEYS = [f"scale-{n}" for n in range(10)]
FUNDED, TIGHT = KEYS[:5], KEYS[5:]
TIGHT_USD = 10  # far less than their 200 jobs cost: some are refused (402), none charged
SUBMISSIONS = 2_000
ORDERS = ("meanwhile", "left_right", "right_left")


def scale_plans() -> list[Plan]:
    """2,000 submissions, round-robin over the instances and the accounts, of 1 to 11 s
    of speech (under the minimum, over it), and one job over the 600 s cap per funded
    account."""
    plans = []
    for i in range(SUBMISSIONS):
        left = 700 if i < len(FUNDED) else 1 + (i // 10) % 7
        plans.append(Plan(KEYS[i % 10], i % INSTANCES, left, 1 + (i // 70) % 4, ORDERS[i // 7 % 3]))
    return plans


@pytest.mark.slow
async def test_concurrent_submissions_are_each_kept_once_and_balances_are_exact(
    cluster: Cluster,
) -> None:
    """2,000 submissions, 64 at a time: each account opens on whichever instance reaches
    it first, each job answered 200 is there once and charged its price once, each
    refusal (402, on the five tight accounts) left no job and no charge, and every
    instance says the same balance, exact to the micro-dollar."""
    plans = scale_plans()
    for key in FUNDED:  # the plan's design: a funded account can pay for all its jobs
        assert sum(p.cost for p in plans if p.key == key) <= OPENING_USD * 1_000_000
    for n, key in enumerate(TIGHT):
        await cluster.control(
            n % INSTANCES, "PUT", "/balance", {"api_key": key, "balance": TIGHT_USD}
        )
    opening = {key: (TIGHT_USD if key in TIGHT else OPENING_USD) * 1_000_000 for key in KEYS}

    answers = await bounded([cluster.submit(p) for p in plans], in_flight=64)

    acknowledged: dict[str, dict[str, Plan]] = {key: {} for key in KEYS}
    refused: dict[str, list[Plan]] = {key: [] for key in KEYS}
    for plan, answer in zip(plans, answers, strict=True):
        if answer.status_code == 200:
            job_id = answer.json()["data"]["id"]
            assert job_id not in acknowledged[plan.key]
            acknowledged[plan.key][job_id] = plan
        else:
            assert (answer.status_code, answer.json()["error_code"]) == (
                402,
                "insufficient_balance",
            ), answer.text
            refused[plan.key].append(plan)
    assert not any(refused[key] for key in FUNDED)
    assert all(refused[key] and acknowledged[key] for key in TIGHT)

    for n, key in enumerate(KEYS):
        mine = acknowledged[key]
        jobs = await cluster.jobs(n % INSTANCES, key)
        ids = [job["id"] for job in jobs]
        assert len(ids) == len(set(ids)) == len(mine)  # each once, and no refused one
        assert set(ids) == set(mine)
        assert {job["status"] for job in jobs} == {"completed"}
        assert {job["id"]: job["quote"]["cost_micros"] for job in jobs} == {
            job_id: plan.cost for job_id, plan in mine.items()
        }

        expected = opening[key] - sum(plan.cost for plan in mine.values())
        ledger = await cluster.ledger((n + 1) % INSTANCES, key)
        charges = [e for e in ledger["entries"] if e["kind"] == "charge"]
        assert sorted(e["job_id"] for e in charges) == sorted(mine)  # each charged once
        assert {e["job_id"]: -micros(e["amount_usd"]) for e in charges} == {
            job_id: plan.cost for job_id, plan in mine.items()
        }
        assert not [e for e in ledger["entries"] if e["kind"] == "refund"]
        assert micros(ledger["balance"]) == expected
        for instance in range(INSTANCES):
            assert await cluster.balance(instance, key) == expected
        # Balances only went down: each refused job cost more than was left when it was
        # refused, so more than is left now.
        assert all(plan.cost > expected for plan in refused[key])
        assert expected >= 0

    # Every 10th job, read through an instance other than the one that took it.
    sample = [
        (job_id, plan)
        for mine in acknowledged.values()
        for job_id, plan in list(mine.items())[::10]
    ]
    results = await bounded(
        [
            cluster.data(
                (plan.instance + 1) % INSTANCES,
                "GET",
                f"/api/v3/predictions/{job_id}/result",
                headers=auth(plan.key),
            )
            for job_id, plan in sample
        ],
        in_flight=32,
    )
    assert [(r["id"], r["status"]) for r in results] == [(i, "completed") for i, _ in sample]


# 2. One job, three instances: submitted on A, polled on B, its clock moved through C.


# More polls than an instance has request threads, each with a read cache of its own: some
# land on a thread that read the job or the clock before another instance changed it.
POLLS = 32


async def test_a_job_submitted_on_one_instance_finishes_on_another_by_a_third_ones_clock(
    cluster: Cluster,
) -> None:
    """The clock is one row: frozen and moved through C, it holds on A and B at once, and
    B's polls follow the job A took through each status, to the millisecond."""
    a, b, c = range(INSTANCES)

    async def clocks(instance: int) -> set[tuple[int, bool]]:
        answers = [await cluster.control(instance, "GET", "/clock") for _ in range(POLLS)]
        return {(clock["now_ms"], clock["frozen"]) for clock in answers}

    await clocks(a), await clocks(b)  # what each instance's threads have read
    frozen = (await cluster.control(c, "POST", "/clock", {"action": "freeze"}))["now_ms"]
    assert await clocks(a) == await clocks(b) == {(frozen, True)}
    slow = {"id": "slow", "then": "complete", "queue_seconds": 2, "processing_seconds": 10}
    await cluster.control(a, "POST", "/scenarios", slow)
    plan = Plan("cross", a, left=4, right=6)
    answer = await cluster.submit(plan)
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["data"]["id"]
    poll = f"/api/v3/predictions/{job_id}/result"

    async def statuses() -> set[str]:
        answers = [await cluster.data(b, "GET", poll, headers=auth(plan.key)) for _ in range(POLLS)]
        return {answer["status"] for answer in answers}

    async def advance(seconds: float) -> None:
        await cluster.control(c, "POST", "/clock", {"action": "advance", "seconds": seconds})

    assert await statuses() == {"created"}
    await advance(1.999)
    assert await statuses() == {"created"}
    await advance(0.001)
    assert await statuses() == {"processing"}
    await advance(9.999)
    assert await statuses() == {"processing"}
    await advance(0.001)
    assert await statuses() == {"completed"}
    done = await cluster.data(b, "GET", poll, headers=auth(plan.key))
    assert done["has_nsfw_contents"] == [False]
    [output] = done["outputs"]
    # Its URLs name the instance asked, and any instance serves the output.
    path = f"/media/outputs/{job_id}/output.mp4"
    assert output == cluster.servers[b].url + path
    video = await cluster.http[b].get(path)
    assert (video.status_code, video.headers["content-type"]) == (200, "video/mp4")
    assert video.content == (await cluster.http[c].get(path)).content
    # $40, less max(4, 6) = 6 s at $0.015.
    assert await cluster.balance(c, plan.key) == micros("39.91")


# 3. A rule's "times" across instances.


async def test_a_rule_for_five_jobs_applies_five_times_across_instances(cluster: Cluster) -> None:
    """40 submissions at once over three instances: the rule's counter is taken under the
    store's lock, so exactly 5 jobs fail (and are refunded), and every instance says so."""
    rule = {"id": "five", "then": "fail", "code": 1403, "message": "moderated", "times": 5}
    await cluster.control(0, "POST", "/scenarios", rule)
    plans = [Plan("rules", i % INSTANCES) for i in range(40)]
    answers = await bounded([cluster.submit(p) for p in plans], in_flight=40)
    assert [a.status_code for a in answers] == [200] * 40
    ids = {a.json()["data"]["id"] for a in answers}

    jobs = await cluster.jobs(1, "rules")
    assert {job["id"] for job in jobs} == ids
    failed = {job["id"] for job in jobs if job["status"] == "failed"}
    assert len(failed) == 5
    assert {(j["outcome"]["code"], j["outcome"]["error"]) for j in jobs if j["id"] in failed} == {
        (1403, "moderated")
    }
    assert {job["status"] for job in jobs if job["id"] not in failed} == {"completed"}
    for instance in range(INSTANCES):
        [seen] = (await cluster.control(instance, "GET", "/scenarios"))["scenarios"]
        assert (seen["id"], seen["matched"], seen["applied"]) == ("five", 5, 5)

    ledger = await cluster.ledger(2, "rules")  # failed jobs are refunded, once each
    assert sorted(e["job_id"] for e in ledger["entries"] if e["kind"] == "refund") == sorted(failed)
    assert micros(ledger["balance"]) == micros("37.375")  # $40, less 35 jobs at $0.075


# 4. Webhooks: each sent once, whichever instance took the job.

WEBHOOK_KEYS = ("hooks-0", "hooks-1", "hooks-2")


async def test_each_webhook_is_delivered_exactly_once(cluster: Cluster, receiver: Receiver) -> None:
    """300 jobs with a webhook over three instances, each pumping every 50 ms: each
    delivery is claimed by one of them, so each arrives once, signed with its account's
    secret, with one attempt in the log."""
    plans = [Plan(WEBHOOK_KEYS[i % 3], i % INSTANCES) for i in range(300)]
    answers = await bounded(
        [cluster.submit(p, params={"webhook": receiver.url}) for p in plans], in_flight=32
    )
    assert [a.status_code for a in answers] == [200] * 300
    job_ids = {a.json()["data"]["id"] for a in answers}

    def arrived() -> set[str]:
        with receiver.lock:
            return {headers["webhook-id"] for headers, _ in receiver.received}

    async def delivered() -> bool:
        return len(arrived()) >= 300

    await wait_for(delivered, 30, lambda: f"300 webhooks ({len(arrived())} arrived)")

    async def all_settled() -> list[Any] | None:
        log = (await cluster.control(1, "GET", "/webhooks"))["deliveries"]
        return log if all(d["state"] == "delivered" for d in log) else None

    log = await wait_for(all_settled, 10, lambda: "every delivery to be recorded delivered")
    assert len(log) == 300
    assert {d["job_id"] for d in log} == job_ids
    retried = [d["attempts"] for d in log if [a["status"] for a in d["attempts"]] != [200]]
    assert not retried, retried[:3]
    with receiver.lock:
        received = list(receiver.received)
    counts = Counter(headers["webhook-id"] for headers, _ in received)
    assert set(counts) == {d["id"] for d in log}
    assert set(counts.values()) == {1}, [i for i, n in counts.items() if n > 1]
    assert {json.loads(body)["id"] for _, body in received} == job_ids
    secrets = {
        key: (await cluster.data(n, "GET", "/api/v3/webhook/secret", headers=auth(key)))["secret"]
        for n, key in enumerate(WEBHOOK_KEYS)
    }
    owner = {a.json()["data"]["id"]: p.key for p, a in zip(plans, answers, strict=True)}
    for headers, body in received:
        assert signed_as_documented(secrets[owner[json.loads(body)["id"]]], headers, body)


# 5. kill -9 under load.


def claims(db_url: str) -> tuple[set[str], set[str]]:
    """(pending deliveries claimed until later than now, pending ones not claimed).

    Read from the database: the claim is the store's and no API shows it.
    """
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT id, claimed_until FROM deliveries WHERE state = 'pending'")
        now = time.time()
        pending = [(str(i), until) for i, until in rows.fetchall()]
    return (
        {i for i, until in pending if until is not None and until > now},
        {i for i, until in pending if until is None or until <= now},
    )


@pytest.mark.slow
async def test_a_killed_instance_loses_no_acknowledged_job_and_its_claims_are_sent_by_others(
    pg_url: str, receiver: Receiver
) -> None:
    """300 submissions with a webhook, 16 at a time, over three instances; at the 100th
    acknowledgement one instance is killed (SIGKILL). Every acknowledged job is there and
    each job there is charged once; the survivors send every delivery but those the dead
    one had claimed, and once those claims lapse, those too.

    The jobs finish at once, so deliveries come due all along and each instance's pump
    claims some every 50 ms; the receiver holds each attempt, so when the victim dies it
    holds the claims of its last pumps."""
    receiver.delay = 0.8
    key, total, victim = "crash", 300, 2
    survivors = [i for i in range(INSTANCES) if i != victim]
    with running_cluster(pg_url, "--pace", "instant") as started:
        async with started.connected(connections=16) as cluster:
            acknowledged: dict[str, int] = {}
            lost: list[int] = []
            live = list(range(INSTANCES))

            async def one(n: int) -> None:
                instance = live[n % len(live)]
                try:
                    answer = await cluster.submit(
                        Plan(key, instance), params={"webhook": receiver.url}
                    )
                except httpx.TransportError:
                    assert instance == victim
                    lost.append(n)
                    return
                assert answer.status_code == 200, answer.text
                acknowledged[answer.json()["data"]["id"]] = instance
                if len(acknowledged) == total // 3:
                    live.remove(victim)  # the next submissions go to the others
                    assert cluster.servers[victim].stop(signal.SIGKILL) == -signal.SIGKILL

            await bounded([one(n) for n in range(total)], in_flight=16)
            assert victim not in live

            # Every acknowledged job is there, and each job there is charged once.
            jobs = {j["id"]: j for j in await cluster.jobs(survivors[0], key)}
            assert set(acknowledged) <= set(jobs)
            unanswered = set(jobs) - set(acknowledged)
            assert len(unanswered) <= len(lost)  # taken by the victim as it died
            victim_url = cluster.servers[victim].url
            assert all(jobs[i]["input"]["video"].startswith(victim_url) for i in unanswered)
            ledger = await cluster.ledger(survivors[1], key)
            charged = [e["job_id"] for e in ledger["entries"] if e["kind"] == "charge"]
            assert sorted(charged) == sorted(jobs)
            # Every job bills the 5 s minimum ($0.075); accounts open with $100.
            expected = micros(100) - len(jobs) * micros("0.075")
            assert micros(ledger["balance"]) == expected
            assert [await cluster.balance(i, key) for i in survivors] == [expected] * 2

            # The survivors send every delivery but those the victim had claimed, which
            # stay claimed (their lease is 60 s of wall time).
            async def settled() -> tuple[set[str]] | None:
                before = claims(pg_url)
                await asyncio.sleep(2.5 * receiver.delay)  # longer than any attempt here
                after = claims(pg_url)
                return (after[0],) if before == after and not after[1] else None

            [held] = await wait_for(
                settled, 30, lambda: f"the survivors' deliveries (pending: {claims(pg_url)})"
            )
            assert held, "the victim held no claim when it died: nothing to check"
            log = (await cluster.control(survivors[0], "GET", "/webhooks"))["deliveries"]
            assert {d["job_id"] for d in log} == set(jobs)
            assert {d["id"] for d in log if d["state"] != "delivered"} == held

            # serve has no option to shorten the lease: the victim's claims lapse now.
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(
                    "UPDATE deliveries SET claimed_until = %s WHERE id = ANY(%s)",
                    (time.time() - 1, list(held)),
                )

            async def all_delivered() -> bool:
                log = (await cluster.control(survivors[1], "GET", "/webhooks"))["deliveries"]
                return all(d["state"] == "delivered" for d in log)

            await wait_for(
                all_delivered,
                30,
                lambda: f"the lapsed claims to be sent (pending: {claims(pg_url)})",
            )
            log = (await cluster.control(survivors[0], "GET", "/webhooks"))["deliveries"]
            # The victim's attempts died with it, unrecorded: one attempt each, answered.
            statuses = {d["id"]: [a["status"] for a in d["attempts"]] for d in log}
            assert [(d["id"], d["attempts"]) for d in log if statuses[d["id"]] != [200]] == []
            with receiver.lock:
                counts = Counter(headers["webhook-id"] for headers, _ in receiver.received)
            assert set(counts) == {d["id"] for d in log}
            # Received twice only if the victim sent it before it died (at least once).
            assert {i for i, n in counts.items() if n > 1} <= held
            assert max(counts.values()) <= 2
