"""Stories repaired behind the API: the nightly job's repair over what was posted, once posts pause.

The online pass decides each article once, against what came before it, so a story whose
reports arrive in an order that splits it stays split until the nightly job. `storyclust
cluster` repairs a run's stories at its end (:func:`recluster.repair_articles`); this gives a
running service the same: on a thread of its own, it repairs the stories of the articles
stored since its last repair once no article has been stored for ``idle_seconds``, or at once
when ``limit`` articles are waiting (a feed that never pauses).

What a POST answered stays the article's online decision; ``GET`` shows the story as repaired,
as after the nightly job. The repair computes without the engine's write lock and takes it
only for its last transaction, so posts go on meanwhile (see :mod:`recluster`).

Parameters and their trade-offs:

- ``idle_seconds``: the pause that counts as the end of a burst. Shorter: stories are repaired
  sooner after a burst, and a slow trickle of posts is repaired in more, smaller runs (each
  costs a vector search per article and the job over the stories met). 0 turns the schedule
  off (the nightly job alone repairs).
- ``limit``: articles waiting that start a repair without a pause. Lower: fresher stories under
  continuous load, more runs competing with the posts for the CPU. The waiting ids are kept in
  memory; a restart forgets them, and the nightly job covers them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .recluster import JobRunning, StaleSnapshot, repair_articles

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger(__name__)


class RepairSchedule:
    """Repairs the stories of newly stored articles after a pause in posting (see the module)."""

    def __init__(self, engine: Engine, idle_seconds: float, limit: int,
                 on_result: Callable[[str], None] | None = None) -> None:
        """``on_result``: called with "done", "postponed" or "failed" after each attempt (metrics)."""
        self.engine = engine
        self.on_result = on_result or (lambda result: None)
        self.idle_seconds = idle_seconds
        self.limit = limit
        self.repairs = 0  # runs committed
        self.last_summary: dict | None = None
        self._waiting: dict[str, None] = {}  # article ids stored since the last repair, in order
        self._last_stored = 0.0
        self._closed = False
        self._wake = threading.Condition()
        self._idle = threading.Event()  # set while nothing waits and no repair runs
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="story-repair", daemon=True)
        self._thread.start()

    def stored(self, ids: Iterable[str]) -> None:
        """Note articles just stored (called after their commit)."""
        with self._wake:
            self._waiting.update(dict.fromkeys(ids))
            if self._waiting:
                self._idle.clear()
            self._last_stored = time.monotonic()
            self._wake.notify()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing waits for a repair and none runs (tests, shutdown); False on timeout."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Stop the thread after the repair that may be running; what still waits is left to
        the nightly job."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    def _due(self) -> float | None:
        """Seconds until a repair is due (0: now), None while nothing waits."""
        if not self._waiting:
            return None
        if len(self._waiting) >= self.limit:
            return 0.0
        return max(0.0, self._last_stored + self.idle_seconds - time.monotonic())

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and (wait := self._due()) != 0.0:
                    self._wake.wait(wait)
                if self._closed:
                    return
                ids, self._waiting = list(self._waiting), {}
            self._repair(ids)

    def _repair(self, ids: list[str]) -> None:
        try:
            report = repair_articles(self.engine, ids)
        except (JobRunning, StaleSnapshot) as error:  # another job ran meanwhile: try again after it
            log.info("story repair postponed: %s", error)
            self.on_result("postponed")
            with self._wake:
                self._waiting = {**dict.fromkeys(ids), **self._waiting}
                self._last_stored = time.monotonic()
            return
        except Exception:  # noqa: BLE001 - the online stories stand; the nightly job will repair
            log.exception("story repair of %d articles failed; their online stories stand", len(ids))
            self.on_result("failed")
        else:
            if report is not None:
                self.repairs += 1
                self.last_summary = report.summary()
                self.on_result("done")
        with self._wake:
            if not self._waiting:
                self._idle.set()
