"""The log files: events spread over days and users, each day's lines merged by
``ts`` while the day's file is written (:func:`write_logs`), in another thread
(:class:`Writer`). The lines come from :mod:`sparkify.generate.events`.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from random import Random
from typing import BinaryIO

from sparkify.generate.catalogue import Catalogue
from sparkify.generate.events import DAY_MS, Sessions, User, emit

PROGRESS_EVERY = 10_000


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (exact sum, deterministic)."""
    wsum = math.fsum(weights)
    if total <= 0 or wsum <= 0:
        return [0] * len(weights)
    exact = [total * w / wsum for w in weights]
    counts = [int(x) for x in exact]
    short = total - sum(counts)
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[:short]:
        counts[i] += 1
    return counts


def write_logs(
    log_data: Path,
    catalogue: Catalogue,
    people: list[User],
    rng: Random,
    writer: Writer,
    *,
    events: int,
    days: int,
    start: dt.date,
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    """Write one NDJSON file per day; return the events and bytes written."""
    users = len(people)
    start_ms = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())
    start_ms *= 1000
    day_counts = largest_remainder(
        events,
        [
            rng.uniform(0.75, 1.25) * (0.85 if (start + dt.timedelta(d)).weekday() >= 5 else 1.0)
            for d in range(days)
        ],
    )
    # Each user gets a day on which it surely plays (no more such users than events that day).
    order = list(range(users))
    rng.shuffle(order)
    debut_counts = largest_remainder(min(users, events), [float(c) for c in day_counts])
    debuts: list[list[int]] = []
    pos = carry = 0
    for count, n_day in zip(debut_counts, day_counts, strict=True):
        # Never more sure players than the day's events: a surplus moves on a day.
        take = min(n_day, count + carry)
        carry = count + carry - take
        debuts.append(sorted(order[pos : pos + take]))
        pos += take

    planner = Sessions(rng, catalogue)
    written = nbytes = 0
    for d in range(days):
        day = start + dt.timedelta(days=d)
        path = log_data / f"{day:%Y}" / f"{day:%m}" / f"{day:%Y-%m-%d}-events.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        n_day = day_counts[d]
        per_user = [0] * users
        if n_day:
            for u in debuts[d]:
                per_user[u] = 1
            # A user plays on about a third of the days (heavy users more often).
            shares = [
                p.weight * rng.expovariate(1.0)
                if rng.random() * (p.weight + 2.0) < p.weight
                else 0.0
                for p in people
            ]
            if not any(shares):
                shares[rng.randrange(users)] = 1.0
            for u, extra in enumerate(largest_remainder(n_day - len(debuts[d]), shares)):
                per_user[u] += extra
        day_ms = start_ms + d * DAY_MS
        streams = [
            emit(planner.plan(people[u], k), day_ms, catalogue) for u, k in enumerate(per_user) if k
        ]
        fh = path.open("wb")
        try:
            buf: list[bytes] = []
            first_chunk = True
            for _ts, line in heapq.merge(*streams):
                buf.append(line)
                if len(buf) >= PROGRESS_EVERY:
                    nbytes += writer.write(fh, buf, first_chunk)
                    first_chunk = False
                    written += len(buf)
                    buf = []
                    if progress is not None:
                        progress(written)
            if buf:
                nbytes += writer.write(fh, buf, first_chunk)
                written += len(buf)
        finally:
            writer.close(fh)
        if progress is not None:
            progress(written)
    return written, nbytes


class Writer:
    """Writes log chunks in another thread, in order, with a few chunks in flight."""

    def __init__(self, pool: ThreadPoolExecutor, in_flight: int = 4) -> None:
        self._pool = pool
        self._in_flight = in_flight
        self._pending: deque[Future[None]] = deque()

    def _submit(self, task: Callable[[], None]) -> None:
        self._pending.append(self._pool.submit(task))
        while len(self._pending) > self._in_flight:
            self._pending.popleft().result()

    def write(self, fh: BinaryIO, lines: list[bytes], first: bool) -> int:
        """Queue ``lines`` joined by newlines (a newline before them unless ``first``).

        Returns:
            The number of bytes queued.
        """
        data = b"\n".join(lines)

        def task() -> None:
            if not first:
                fh.write(b"\n")
            fh.write(data)

        self._submit(task)
        return len(data) + (0 if first else 1)

    def close(self, fh: BinaryIO) -> None:
        """Queue closing ``fh`` after its writes."""
        self._submit(fh.close)

    def drain(self) -> None:
        """Wait for every queued task; raise the first failure."""
        while self._pending:
            self._pending.popleft().result()
