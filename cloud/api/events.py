"""Events from the patches: list, view, review (confirm or reject), delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime
from sqlalchemy import select
from sqlmodel import col

from cloud.api.access import own_patients, visible_event
from cloud.api.deps import IdPath, IdQuery, NowDep, SessionDep, UserDep, actor
from cloud.audit import audit
from cloud.ingest_schema import EventType
from cloud.models import Event, ReviewStatus
from cloud.schemas import MAX_ID, EventOut, ReviewIn

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=list[EventOut])
def list_events(
    user: UserDep,
    session: SessionDep,
    patient_id: IdQuery = None,
    type: EventType | None = None,
    review_status: ReviewStatus | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[Event]:
    query = own_patients(select(Event), user, col(Event.patient_id))
    filters = {"patient_id": patient_id, "type": type, "review_status": review_status}
    for column, value in filters.items():
        if value is not None:
            query = query.where(getattr(Event, column) == value)
    if since is not None:
        query = query.where(col(Event.onset) >= since)
    if until is not None:
        query = query.where(col(Event.onset) < until)
    events = list(session.execute(query.order_by(col(Event.onset).desc(), col(Event.id).desc()).limit(limit).offset(offset)).scalars())
    audit(session, actor(user), "list", "event", None, count=len(events), patient_id=patient_id)
    session.commit()
    return events


@router.get("/{event_id}", response_model=EventOut)
def get_event(event_id: IdPath, user: UserDep, session: SessionDep) -> Event:
    event = visible_event(session, user, event_id)
    audit(session, actor(user), "view", "event", event_id)
    session.commit()
    return event


@router.put("/{event_id}/review", response_model=EventOut)
def review_event(event_id: IdPath, body: ReviewIn, user: UserDep, session: SessionDep, moment: NowDep) -> Event:
    """A doctor's verdict on the event: confirmed, rejected, or back to pending."""
    event = visible_event(session, user, event_id)
    event.review_status = body.status
    event.review_note = body.note
    event.reviewed_by = user.id
    event.reviewed_at = moment
    session.add(event)
    action = {"confirmed": "confirm", "rejected": "reject"}.get(body.status, "reopen")
    audit(session, actor(user), action, "event", event_id, note=body.note or None)
    session.commit()
    return event


@router.delete("/{event_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_event(event_id: IdPath, user: UserDep, session: SessionDep) -> None:
    event = visible_event(session, user, event_id)
    session.delete(event)
    audit(session, actor(user), "delete", "event", event_id)
    session.commit()
