"""Back-off after failed logins, per account and per client address.

After `free` failures the n-th locks the key for base × 2^(n − free − 1) seconds, up to a cap;
a success clears the account's count. The state is in the database, so every server process sees it.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from cloud.models import LoginThrottle


def wait_s(session: Session, keys: list[str], now: datetime) -> int:
    """Whole seconds until every key is unlocked; 0 when none is locked."""
    rows = session.exec(select(LoginThrottle).where(col(LoginThrottle.key).in_(keys))).all()
    waits = [(row.locked_until - now).total_seconds() for row in rows if row.locked_until is not None]
    return max([0, *(math.ceil(w) for w in waits if w > 0)])


def record_failure(
    session: Session, limits: dict[str, int], now: datetime, base_s: float, max_s: float
) -> None:
    """Count one failure for each key; `limits` maps key -> failures allowed before back-off."""
    for key, free in limits.items():
        row = session.get(LoginThrottle, key) or LoginThrottle(key=key)
        row.failures += 1
        if row.failures > free:
            delay = min(base_s * 2 ** (row.failures - free - 1), max_s)
            row.locked_until = now + timedelta(seconds=delay)
        session.add(row)


def clear(session: Session, key: str) -> None:
    row = session.get(LoginThrottle, key)
    if row is not None:
        session.delete(row)
