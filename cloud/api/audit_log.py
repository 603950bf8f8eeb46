"""The audit log, for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlmodel import col

from cloud.api.deps import AdminDep, IdQuery, SessionDep
from cloud.models import AuditEntry
from cloud.schemas import MAX_ID, AuditOut

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditOut])
def list_audit(
    admin: AdminDep,
    session: SessionDep,
    actor_id: IdQuery = None,
    target_kind: str | None = None,
    target_id: IdQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[AuditEntry]:
    """Newest first."""
    query = select(AuditEntry)
    if actor_id is not None:
        query = query.where(col(AuditEntry.actor_id) == actor_id)
    if target_kind is not None:
        query = query.where(col(AuditEntry.target_kind) == target_kind)
    if target_id is not None:
        query = query.where(col(AuditEntry.target_id) == target_id)
    return list(session.execute(query.order_by(col(AuditEntry.id).desc()).limit(limit).offset(offset)).scalars())
