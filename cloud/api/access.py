"""What a caller may see: administrators everything, doctors their own patients and what hangs off them."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from sqlalchemy import Select, select
from sqlmodel import Session, col

from cloud.api.deps import is_admin, not_found
from cloud.models import Event, Patient, Record, User


def own_patients(query: Select[Any], user: User, patient_column: Any) -> Select[Any]:
    """`query` limited to rows whose patient the user may see."""
    if is_admin(user):
        return query
    return query.where(patient_column.in_(select(col(Patient.id)).where(col(Patient.doctor_id) == user.id)))


def visible_patient(session: Session, user: User, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None or not (is_admin(user) or patient.doctor_id == user.id):
        raise not_found("patient", patient_id)
    return patient


def visible_record(session: Session, user: User, record_id: int) -> Record:
    record = session.get(Record, record_id)
    if record is None or not _sees_patient(session, user, record.patient_id):
        raise not_found("record", record_id)
    return record


def visible_event(session: Session, user: User, event_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None or not _sees_patient(session, user, event.patient_id):
        raise not_found("event", event_id)
    return event


def _sees_patient(session: Session, user: User, patient_id: int) -> bool:
    if is_admin(user):
        return True
    patient = session.get(Patient, patient_id)
    return patient is not None and patient.doctor_id == user.id


def check_doctor(session: Session, doctor_id: int) -> None:
    doctor = session.get(User, doctor_id)
    if doctor is None:
        raise HTTPException(422, f"no user {doctor_id} to be the patient's doctor")
