"""Supervision of long-running services: named tasks, jittered restarts within a budget, ordered stop.

A service is an async context manager (acquire and release its resources) with a ``serve()`` coroutine
that runs until cancelled. When ``serve`` or entering fails, the service is restarted after a jittered
backoff; the failure is logged once and the recovery once (after it stayed up ``stable_after_s``), so a
crash loop does not flood the journal. A service that exhausts its restart budget stops the daemon
with an error, and systemd restarts the whole process.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from edge.backoff import jittered_backoff
from edge.privacy import mask_text

log = logging.getLogger(__name__)


class Service:
    """Base class: override ``serve`` (and ``__aenter__``/``__aexit__`` for resources)."""

    name: str = "service"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def serve(self) -> None:
        """Run until cancelled. Returning means the service finished on purpose."""
        await asyncio.Event().wait()

    @property
    def ready(self) -> bool:
        return True


class RestartBudgetExhaustedError(Exception):
    def __init__(self, service: str, restarts: int, window_s: float) -> None:
        super().__init__(f"service {service!r} failed {restarts} times within {window_s:.0f} s; giving up")
        self.service = service


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    max_restarts: int = 5
    window_s: float = 60.0
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0
    stable_after_s: float = 5.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return jittered_backoff(attempt, min_s=self.backoff_min_s, max_s=self.backoff_max_s, rng=rng)


@dataclass
class ServiceState:
    running: bool = False
    restarts: int = 0
    last_error: str = ""


class Supervisor:
    def __init__(
        self,
        policy: RestartPolicy,
        *,
        on_state: Callable[[str, ServiceState], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self.states: dict[str, ServiceState] = {}
        self._on_state = on_state
        self._rng = rng or random.Random()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._fatal: asyncio.Future[BaseException] | None = None

    async def run(self, services: Sequence[Service], stop: asyncio.Event, *, drain_timeout_s: float) -> None:
        """Start every service, wait for ``stop`` or a fatal failure, then stop them in reverse order."""
        loop = asyncio.get_running_loop()
        self._fatal = loop.create_future()
        async with asyncio.TaskGroup() as group:
            for service in services:
                self.states[service.name] = ServiceState()
                self._tasks[service.name] = group.create_task(self._keep(service), name=f"service.{service.name}")
            stop_waiter = group.create_task(stop.wait(), name="supervisor.stop")
            waiters: set[asyncio.Future[Any]] = {stop_waiter, self._fatal}
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            stop_waiter.cancel()
            deadline = loop.time() + drain_timeout_s
            for service in reversed(services):
                await self._stop_one(service.name, max(0.1, deadline - loop.time()))
        if self._fatal.done():
            raise self._fatal.result()

    def task_names(self) -> list[str]:
        return [task.get_name() for task in self._tasks.values()]

    async def _stop_one(self, name: str, timeout: float) -> None:
        task = self._tasks[name]
        if task.done():
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            log.error("service %s did not stop within %.1f s", name, timeout)

    def _set(self, name: str, **changes: object) -> None:
        state = self.states[name]
        for key, value in changes.items():
            setattr(state, key, value)
        if self._on_state is not None:
            self._on_state(name, state)

    async def _keep(self, service: Service) -> None:
        failures: deque[float] = deque()
        failing = False  # between a logged failure and its logged recovery
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                async with service:
                    self._set(service.name, running=True)
                    if failing:
                        recovery = asyncio.get_running_loop().call_later(
                            self.policy.stable_after_s, self._recovered, service.name, attempt
                        )
                    try:
                        await service.serve()
                    finally:
                        if failing:
                            recovery.cancel()
                self._set(service.name, running=False)
                log.info("service %s finished", service.name)
                return
            except asyncio.CancelledError:
                self._set(service.name, running=False)
                raise
            except Exception as exc:
                # /api/v1/status shows it: an exception's text may quote personal data.
                self._set(service.name, running=False, last_error=mask_text(f"{type(exc).__name__}: {exc}"))
                now = time.monotonic()
                if now - started >= self.policy.stable_after_s:
                    failing, attempt = False, 0
                failures.append(now)
                while failures and now - failures[0] > self.policy.window_s:
                    failures.popleft()
                if len(failures) > self.policy.max_restarts:
                    error = RestartBudgetExhaustedError(service.name, len(failures), self.policy.window_s)
                    log.critical("%s", error)
                    if self._fatal is not None and not self._fatal.done():
                        self._fatal.set_result(error)
                    return
                attempt += 1
                delay = self.policy.backoff(attempt, self._rng)
                if not failing:
                    log.error(
                        "service %s failed; restarting in %.1f s", service.name, delay, exc_info=exc,
                        extra={"service": service.name},
                    )
                    failing = True
                else:
                    log.debug("service %s failed again (attempt %d): %s", service.name, attempt, exc)
                self._set(service.name, restarts=self.states[service.name].restarts + 1)
                await asyncio.sleep(delay)

    def _recovered(self, name: str, attempts: int) -> None:
        log.warning("service %s recovered after %d restart(s)", name, attempts, extra={"service": name})
