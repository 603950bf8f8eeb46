"""Patients: each belongs to one doctor, who alone (with the administrators) sees them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select
from sqlmodel import col

from cloud.api.access import check_doctor, own_patients, visible_patient
from cloud.api.deps import IdPath, SessionDep, UserDep, actor, is_admin
from cloud.audit import audit
from cloud.models import Patient
from cloud.schemas import PatientIn, PatientOut, PatientUpdateIn

router = APIRouter(prefix="/patients", tags=["patients"])


@router.get("", response_model=list[PatientOut])
def list_patients(user: UserDep, session: SessionDep) -> list[Patient]:
    query = own_patients(select(Patient).order_by(col(Patient.id)), user, col(Patient.id))
    patients = list(session.execute(query).scalars())
    audit(session, actor(user), "list", "patient", None, count=len(patients))
    session.commit()
    return patients


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PatientOut)
def create_patient(body: PatientIn, user: UserDep, session: SessionDep) -> Patient:
    if is_admin(user):
        if body.doctor_id is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "give doctor_id: the patient's doctor")
        check_doctor(session, body.doctor_id)
        doctor_id: int | None = body.doctor_id
    else:
        if body.doctor_id not in (None, user.id):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "doctors create patients for themselves only")
        doctor_id = user.id
    assert doctor_id is not None
    patient = Patient(**body.model_dump(exclude={"doctor_id"}), doctor_id=doctor_id)
    session.add(patient)
    session.flush()
    audit(session, actor(user), "create", "patient", patient.id)
    session.commit()
    return patient


@router.get("/{patient_id}", response_model=PatientOut)
def get_patient(patient_id: IdPath, user: UserDep, session: SessionDep) -> Patient:
    patient = visible_patient(session, user, patient_id)
    audit(session, actor(user), "view", "patient", patient_id)
    session.commit()
    return patient


@router.patch("/{patient_id}", response_model=PatientOut)
def update_patient(patient_id: IdPath, body: PatientUpdateIn, user: UserDep, session: SessionDep) -> Patient:
    patient = visible_patient(session, user, patient_id)
    changes = body.model_dump(exclude_unset=True)
    if "doctor_id" in changes:
        if not is_admin(user):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only an administrator may hand a patient to another doctor")
        if changes["doctor_id"] is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "doctor_id cannot be null")
        check_doctor(session, changes["doctor_id"])
    if changes.get("name", "") is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "name cannot be null")
    if changes.get("notes", "") is None:
        changes["notes"] = ""
    for field, value in changes.items():
        setattr(patient, field, value)
    session.add(patient)
    audit(session, actor(user), "update", "patient", patient_id, fields=sorted(changes))
    session.commit()
    return patient


@router.delete("/{patient_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_patient(patient_id: IdPath, user: UserDep, session: SessionDep) -> None:
    """Deletes the patient with their records, events and analyses."""
    patient = visible_patient(session, user, patient_id)
    session.delete(patient)
    audit(session, actor(user), "delete", "patient", patient_id)
    session.commit()
