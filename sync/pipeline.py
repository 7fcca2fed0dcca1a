"""Rows in order, with their reads running ahead in threads and one write in flight.

Hint allows list calls (searches) concurrently, but detail calls in batch work one at a time.
So the read a row will need starts a few rows ahead in a pool; one writer thread sends the
writes, one at a time; and while row N+1's write is in flight, the caller's thread records
row N. The caller's loop reads as one row at a time:

    with Pipeline(ahead=3, read=search_for, done=record) as pipe:
        for row, found in pipe.rows(pending):
            job = plan(row, found.result() if found else None)
            pipe.send(job, write_call)   # and records the previous job's answer
"""

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from types import TracebackType
from typing import Any, Generic, TypeVar

Row = TypeVar("Row")
Job = TypeVar("Job")


class Pipeline(Generic[Row, Job]):
    """`read(row)` gives the call a row will need (or None); `done(job, answer)` records a
    job once its write was answered (`answer` is the write's Future)."""

    def __init__(
        self,
        *,
        ahead: int,
        read: Callable[[Row], Callable[[], Any] | None],
        done: Callable[[Job, Future], None],
        name: str,
        quiet_on_stop: tuple[type[Exception], ...] = (),
    ) -> None:
        self._ahead = ahead
        self._read = read
        self._done = done
        self._name = name
        # Errors that `done` may raise again while the run is stopping for that same reason.
        self._quiet = quiet_on_stop
        self._window: deque[tuple[Row, Future | None]] = deque()
        self._in_flight: tuple[Job, Future] | None = None

    def __enter__(self) -> "Pipeline[Row, Job]":
        self._readers = ThreadPoolExecutor(self._ahead, thread_name_prefix=f"{self._name}-read")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix=f"{self._name}-write")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self._land()
            else:
                # Stopping early: the write already sent is recorded, reads not started dropped.
                for _row, read in self._window:
                    if read is not None:
                        read.cancel()
                with suppress(*self._quiet):
                    self._land()
        finally:
            self._readers.shutdown(wait=True)
            self._writer.shutdown(wait=True)

    @property
    def in_flight(self) -> Job | None:
        """The job whose write is being sent (not recorded yet)."""
        return self._in_flight[0] if self._in_flight else None

    def rows(self, source: Iterator[Row]) -> Iterator[tuple[Row, Future | None]]:
        """Each row with the Future of its read, the reads of the next rows already started."""
        for _ in range(self._ahead + 1):
            self._start_read(source)
        while self._window:
            row, read = self._window.popleft()
            self._start_read(source)
            yield row, read

    def send(self, job: Job | None, write: Callable[[], Any] | None = None) -> None:
        """Send `job`'s write (if any), then record the job sent before it."""
        previous = self._in_flight
        self._in_flight = (job, self._writer.submit(write)) if job is not None and write else None
        if previous is not None:
            self._done(*previous)

    def _start_read(self, source: Iterator[Row]) -> None:
        row = next(source, None)
        if row is not None:
            call = self._read(row)
            self._window.append((row, self._readers.submit(call) if call else None))

    def _land(self) -> None:
        landing, self._in_flight = self._in_flight, None
        if landing is not None:
            self._done(*landing)
