"""Audit log entries, written in the same transaction as what they describe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from cloud.models import AuditEntry, utcnow


@dataclass(frozen=True)
class Actor:
    kind: str  # user, gateway, anonymous
    id: int | None


ANONYMOUS = Actor("anonymous", None)


def audit(
    session: Session,
    actor: Actor,
    action: str,
    target_kind: str,
    target_id: int | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEntry(
            at=utcnow(),
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=action,
            target_kind=target_kind,
            target_id=target_id,
            detail=detail or None,
        )
    )
