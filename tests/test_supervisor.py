from __future__ import annotations

import asyncio
import logging
import random

import pytest

from edge.supervisor import RestartBudgetExhaustedError, RestartPolicy, Service, Supervisor

FAST = RestartPolicy(max_restarts=5, window_s=60, backoff_min_s=0.01, backoff_max_s=0.02, stable_after_s=0.2)


class Steady(Service):
    name = "steady"

    def __init__(self) -> None:
        self.ticks = 0
        self.exited = False

    async def serve(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.01)

    async def __aexit__(self, *exc: object) -> None:
        self.exited = True


class Flaky(Service):
    """Fails its first ``failures`` runs, then runs until cancelled."""

    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.starts = 0

    async def serve(self) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise RuntimeError(f"boom {self.starts}")
        await asyncio.Event().wait()


async def test_crashing_service_restarts_and_others_keep_running(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "edge.supervisor")
    steady, flaky = Steady(), Flaky(failures=3)
    supervisor = Supervisor(FAST, rng=random.Random(1))
    stop = asyncio.Event()
    run = asyncio.create_task(supervisor.run([steady, flaky], stop, drain_timeout_s=2))
    def recovered() -> bool:  # logged once it stayed up stable_after_s (0.2 s)
        return any("recovered" in r.getMessage() for r in caplog.records)

    async with asyncio.timeout(30):  # a ceiling: three restarts with 10-20 ms backoff take well under a second
        while not (flaky.starts == 4 and supervisor.states["flaky"].running and recovered()):
            await asyncio.sleep(0.01)
    assert supervisor.states["flaky"].restarts == 3
    ticks = steady.ticks
    async with asyncio.timeout(30):
        while steady.ticks <= ticks:  # the healthy service kept running
            await asyncio.sleep(0.01)
    assert sorted(supervisor.task_names()) == ["service.flaky", "service.steady"]
    stop.set()
    await asyncio.wait_for(run, 60)
    assert steady.exited
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    recoveries = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(errors) == 1 and "service flaky failed" in errors[0].getMessage()
    assert len(recoveries) == 1 and "3 restart(s)" in recoveries[0].getMessage()


async def test_exhausted_budget_stops_everything_with_an_error() -> None:
    steady = Steady()
    policy = RestartPolicy(max_restarts=2, window_s=60, backoff_min_s=0.01, backoff_max_s=0.01)
    supervisor = Supervisor(policy)
    with pytest.raises(RestartBudgetExhaustedError, match="'flaky' failed 3 times"):
        await asyncio.wait_for(supervisor.run([steady, Flaky(failures=100)], asyncio.Event(), drain_timeout_s=1), 60)
    assert steady.exited


def test_backoff_is_jittered_and_bounded() -> None:
    rng = random.Random(7)
    policy = RestartPolicy(backoff_min_s=0.5, backoff_max_s=30)
    delays = [policy.backoff(attempt, rng) for attempt in range(1, 20)]
    assert all(0.25 <= d <= 30 for d in delays)
    assert len({round(d, 3) for d in delays}) > 10


class QuotesAnId(Service):
    """Fails once with an exception quoting a resident ID number, as a parser's error may."""

    name = "quotes"

    def __init__(self) -> None:
        self.starts = 0

    async def serve(self) -> None:
        self.starts += 1
        if self.starts == 1:
            raise ValueError("bad card 11010519491231002X")
        await asyncio.Event().wait()


async def test_last_error_shown_by_the_status_api_is_masked() -> None:
    service = QuotesAnId()
    supervisor = Supervisor(FAST, rng=random.Random(1))
    stop = asyncio.Event()
    run = asyncio.create_task(supervisor.run([service], stop, drain_timeout_s=2))
    async with asyncio.timeout(30):  # a ceiling on the condition: one restart after 10-20 ms
        while not (service.starts == 2 and supervisor.states["quotes"].running):
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(run, 30)
    assert supervisor.states["quotes"].last_error == "ValueError: bad card 1101**********002X"
