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
  continuous load, more runs competing with the posts for the CPU.

The waiting ids are kept in memory, and the store keeps how far the repairs have got
(``store.REPAIRED_UPTO``: every article stored up to that row has been through one), so that a
restart, also after a kill, repairs what was posted since then once its first pause is over,
instead of leaving those stories split until the nightly job. Row ids only grow and the engine
reports each commit under its write lock, so the articles noted here arrive in row order. A
store that has no mark yet (new, or made by an earlier version) owes nothing: what it holds
is the nightly job's. Articles that `storyclust cluster` stored in the same data directory
count as posted since the mark too: the next start repairs them once more (a run has repaired
its own, so that pass mostly confirms them; an `--online` run's are repaired only then). A debt
of more than ``RESUME_LIMIT`` times ``limit`` articles (a bulk import by `cluster`, not posts:
those start a repair at ``limit``) is left to the nightly job rather than repaired in one run
at start-up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .recluster import JobRunning, StaleSnapshot, repair_articles
from .store import REPAIRED_UPTO

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger(__name__)

RESUME_LIMIT = 10  # times ``limit``: the most articles a start-up repairs (see the module)


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
        self._noted_upto = self._resume()  # the highest row id noted so far
        self._thread = threading.Thread(target=self._run, name="story-repair", daemon=True)
        self._thread.start()

    def _resume(self) -> int:
        """Queue the articles stored after the store's repair mark (a restart's debt); the
        highest row id stored."""
        store = self.engine.store
        upto = store.max_rowid()
        mark = store.get_meta(REPAIRED_UPTO)
        if mark is None:
            self._mark(upto)
            return upto
        owed = store.ids_after(int(mark), limit=RESUME_LIMIT * self.limit + 1)  # enough to tell
        if len(owed) > RESUME_LIMIT * self.limit:
            log.warning("more than %d articles stored since the last repair: left to the nightly job",
                        RESUME_LIMIT * self.limit)
            self._mark(upto)
        elif owed:
            log.info("repairing the stories of %d articles stored since the last repair", len(owed))
            self._waiting = dict.fromkeys(owed)
            self._last_stored = time.monotonic()
            self._idle.clear()
        return upto

    def _mark(self, upto: int) -> None:
        """Record that every article up to row ``upto`` has been through a repair."""
        with self.engine.lock:  # the writer's connection: no ingest transaction is open meanwhile
            self.engine.store.set_meta(REPAIRED_UPTO, str(upto))

    def stored(self, ids: Iterable[str], upto: int) -> None:
        """Note articles just stored, the highest row id among them ``upto`` (called after their
        commit, in commit order)."""
        with self._wake:
            self._noted_upto = max(self._noted_upto, upto)
            self._waiting.update(dict.fromkeys(ids))
            if self._waiting:
                self._idle.clear()
            self._last_stored = time.monotonic()
            self._wake.notify()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing waits for a repair and none runs (tests, shutdown); False on timeout."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Stop the thread after the repair that may be running; what still waits is repaired
        after the next start (the store's mark), or by the nightly job."""
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
                ids, upto, self._waiting = list(self._waiting), self._noted_upto, {}
            self._repair(ids, upto)

    def _repair(self, ids: list[str], upto: int) -> None:
        """Repair the stories of ``ids``: every article noted up to row ``upto``."""
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
        try:
            self._mark(upto)
        except Exception:  # noqa: BLE001 - a restart repairs these again: harmless
            log.exception("could not record the repair mark")
        with self._wake:
            if not self._waiting:
                self._idle.set()
