"""The embedded default's task runner: a Celery worker and Celery beat in threads of
the server process, on the in-memory transport (DESIGN.md §2).

The tasks, their countdowns and the periodic sweeps run exactly as in production;
only the broker differs. Nothing here is used when REDIS_URL is set: production runs
`celery worker` and `celery beat` as their own processes (docker-compose.yml).
"""

import logging
import threading
from dataclasses import dataclass

from celery import Celery
from celery.beat import EmbeddedService
from celery.beat import Scheduler as InMemoryScheduler
from celery.worker import WorkController

logger = logging.getLogger(__name__)


class ThreadWorker(WorkController):
    """A worker that can live in a thread: no signal handlers (only the main thread
    may install them) and a way to wait until it consumes."""

    def __init__(self, *args, **kwargs):
        self.consuming = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer):
        self.consuming.set()


@dataclass
class EmbeddedCelery:
    worker: ThreadWorker
    worker_thread: threading.Thread
    beat: threading.Thread

    def stop(self, timeout: float = 10) -> None:
        self.beat.stop()
        self.worker.stop(in_sighandler=False)
        self.worker_thread.join(timeout)
        self.beat.join(timeout)


def embedded_celery_start(app: Celery, *, with_beat: bool = True) -> EmbeddedCelery:
    app.finalize()
    app.set_current()
    app.set_default()
    worker = ThreadWorker(
        app=app,
        hostname="embedded@tongxin",
        pool="solo",
        concurrency=1,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel="WARNING",
    )
    worker_thread = threading.Thread(target=worker.start, name="celery-worker", daemon=True)
    worker_thread.start()
    if not worker.consuming.wait(timeout=30):
        raise RuntimeError("the embedded Celery worker did not start within 30 s")
    # In-memory schedule: nothing to persist, as the memory broker keeps nothing either;
    # each periodic task derives its work from the database (DESIGN.md §4 rule 3).
    beat = EmbeddedService(app, thread=True, scheduler_cls=InMemoryScheduler)
    if with_beat:
        beat.start()
    logger.info("embedded Celery worker%s running", " and beat" if with_beat else "")
    return EmbeddedCelery(worker=worker, worker_thread=worker_thread, beat=beat)
