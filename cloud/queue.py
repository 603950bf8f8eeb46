"""The task queue: huey on SQLite in the data folder, or on Redis when a Redis URL is configured.

The queue carries only analysis ids; the job's state is in the database (cloud.jobs), so a job lost
with a killed worker is found by its lapsed lease and queued again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from huey import Huey, SqliteHuey, crontab
from huey.consumer import Consumer
from sqlalchemy import Engine

from cloud.db import make_engine
from cloud.jobs import claim_stale, run_analysis
from cloud.settings import Settings

QUEUE_NAME = "ecg-cloud"
log = logging.getLogger(__name__)


def make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        try:
            import redis  # noqa: F401
            from huey import RedisHuey
        except ImportError as exc:
            raise RuntimeError(f"ECG_CLOUD_REDIS_URL is set but the redis package is missing: {exc}") from exc
        return RedisHuey(QUEUE_NAME, url=settings.redis_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(QUEUE_NAME, filename=str(settings.queue_path))


class AnalysisQueue:
    """Enqueues analyses (in the API) and runs them (in `ecg cloud worker`)."""

    def __init__(self, settings: Settings, huey: Huey | None = None) -> None:
        self.settings = settings
        self.huey = huey if huey is not None else make_huey(settings)
        self._engine: Engine | None = None
        self._analyse = self.huey.task(name="analyse")(self._run)
        self.huey.periodic_task(crontab(minute="*"), name="requeue_stale")(self.requeue_stale)

    def enqueue(self, analysis_ids: Iterable[int]) -> None:
        """Send jobs to the workers; a failure here is logged, and the lapsed lease requeues them later."""
        ids = list(analysis_ids)
        if not ids:
            return
        try:
            self._analyse(ids)
        except Exception:
            log.exception("could not enqueue analyses %s; they will be queued again when their lease lapses", ids)

    def requeue_stale(self) -> list[int]:
        ids = claim_stale(self.engine, self.settings.job_lease_s)
        if ids:
            log.warning("queued again after a lapsed lease: analyses %s", ids)
            self.enqueue(ids)
        return ids

    def consumer(self, workers: int = 1) -> Consumer:
        return self.huey.create_consumer(workers=workers, worker_type="thread", periodic=True)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.db_url)
        return self._engine

    def _run(self, analysis_ids: list[int]) -> None:
        # Returns nothing: huey would keep a returned value in its result store for nobody to read.
        for analysis_id in analysis_ids:
            run_analysis(self.engine, analysis_id, self.settings.analyser, self.settings.job_lease_s)
