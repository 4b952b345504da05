"""How the infra operations report progress and wait: reporters and polling settings."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 15.0
DEFAULT_TIMEOUT = 30 * 60.0


class Reporter(Protocol):
    """Receives what the operations do: steps done, waits in progress, warnings."""

    def step(self, message: str) -> None:
        """One thing was done or found (created, reused, deleted...)."""

    def waiting(self, message: str) -> None:
        """Still waiting for a resource; called once per poll."""

    def warn(self, message: str) -> None:
        """Something the user should know and probably fix."""


class LogReporter:
    """The default reporter: steps and waits at INFO, warnings at WARNING."""

    def step(self, message: str) -> None:
        log.info("%s", message)

    def waiting(self, message: str) -> None:
        log.info("%s", message)

    def warn(self, message: str) -> None:
        log.warning("%s", message)


@dataclass(frozen=True)
class Waiting:
    """How to wait for AWS: poll interval and timeout in seconds, and the clock to use."""

    poll_interval: float = DEFAULT_POLL_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
