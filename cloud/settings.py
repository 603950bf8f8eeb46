"""Where the service keeps its data and how it behaves, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ANALYSER = "cloud.analysis.patch_models:analyse_with_models"


@dataclass(frozen=True)
class Argon2Cost:
    """argon2id parameters; tests lower them, production keeps argon2-cffi's defaults."""

    time_cost: int = 3
    memory_cost: int = 65536  # KiB
    parallelism: int = 4


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    db_url: str
    redis_url: str | None = None
    token_ttl_s: int = 12 * 3600
    # Failed logins allowed before back-off starts, then a wait that doubles per failure up to the cap.
    login_free_failures: int = 3
    login_backoff_s: float = 1.0
    login_backoff_max_s: float = 900.0
    # A running analysis whose lease lapses (worker killed) is queued again.
    job_lease_s: float = 600.0
    analyser: str = DEFAULT_ANALYSER
    migrate_on_start: bool = True
    argon2: Argon2Cost = field(default_factory=Argon2Cost)

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.db"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def settings_from_env(env: dict[str, str] | None = None) -> Settings:
    """Settings from ECG_CLOUD_* variables; everything has a default that needs no setup."""
    env = dict(os.environ) if env is None else env
    data_dir = Path(env.get("ECG_CLOUD_DATA_DIR", "cloud-data")).resolve()
    db_url = env.get("ECG_CLOUD_DB_URL") or sqlite_url(data_dir / "cloud.db")
    return Settings(
        data_dir=data_dir,
        db_url=db_url,
        redis_url=env.get("ECG_CLOUD_REDIS_URL") or None,
        token_ttl_s=int(env.get("ECG_CLOUD_TOKEN_TTL_S", 12 * 3600)),
        job_lease_s=float(env.get("ECG_CLOUD_JOB_LEASE_S", 600)),
        analyser=env.get("ECG_CLOUD_ANALYSER", DEFAULT_ANALYSER),
        migrate_on_start=env.get("ECG_CLOUD_MIGRATE_ON_START", "1") != "0",
    )
