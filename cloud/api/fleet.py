"""Gateways (with their keys), patches and who wears which patch when. Administrators only."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from cloud.api.deps import AdminDep, IdPath, SessionDep, actor, not_found
from cloud.audit import audit
from cloud.models import Device, DeviceAssignment, Gateway, Patient
from cloud.schemas import (
    AssignmentIn,
    AssignmentOut,
    DeviceIn,
    DeviceOut,
    DeviceUpdateIn,
    GatewayIn,
    GatewayKeyOut,
    GatewayOut,
)
from cloud.security import digest, new_gateway_key

router = APIRouter(tags=["gateways and patches"])


@router.get("/gateways", response_model=list[GatewayOut])
def list_gateways(admin: AdminDep, session: SessionDep) -> list[Gateway]:
    return list(session.execute(select(Gateway).order_by(col(Gateway.id))).scalars())


@router.post("/gateways", status_code=status.HTTP_201_CREATED, response_model=GatewayKeyOut)
def create_gateway(body: GatewayIn, admin: AdminDep, session: SessionDep) -> GatewayKeyOut:
    """A new gateway and its key; the key is in this answer only."""
    key = new_gateway_key()
    gateway = Gateway(name=body.name, key_hash=digest(key))
    session.add(gateway)
    session.flush()
    audit(session, actor(admin), "create", "gateway", gateway.id)
    session.commit()
    return GatewayKeyOut(**GatewayOut.model_validate(gateway, from_attributes=True).model_dump(), key=key)


@router.post("/gateways/{gateway_id}/key", response_model=GatewayKeyOut)
def rotate_gateway_key(gateway_id: IdPath, admin: AdminDep, session: SessionDep) -> GatewayKeyOut:
    """Replace the gateway's key; the old one stops working at once."""
    gateway = session.get(Gateway, gateway_id)
    if gateway is None:
        raise not_found("gateway", gateway_id)
    key = new_gateway_key()
    gateway.key_hash = digest(key)
    session.add(gateway)
    audit(session, actor(admin), "rotate_key", "gateway", gateway_id)
    session.commit()
    return GatewayKeyOut(**GatewayOut.model_validate(gateway, from_attributes=True).model_dump(), key=key)


@router.delete("/gateways/{gateway_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_gateway(gateway_id: IdPath, admin: AdminDep, session: SessionDep) -> None:
    gateway = session.get(Gateway, gateway_id)
    if gateway is None:
        raise not_found("gateway", gateway_id)
    session.delete(gateway)
    audit(session, actor(admin), "delete", "gateway", gateway_id)
    session.commit()


@router.get("/devices", response_model=list[DeviceOut])
def list_devices(admin: AdminDep, session: SessionDep) -> list[Device]:
    return list(session.execute(select(Device).order_by(col(Device.id))).scalars())


@router.post("/devices", status_code=status.HTTP_201_CREATED, response_model=DeviceOut)
def create_device(body: DeviceIn, admin: AdminDep, session: SessionDep) -> Device:
    _check_gateway(session, body.gateway_id)
    device = Device(serial=body.serial, gateway_id=body.gateway_id)
    session.add(device)
    try:
        session.flush()
    except IntegrityError:
        raise HTTPException(status.HTTP_409_CONFLICT, f"patch {body.serial!r} is already registered") from None
    audit(session, actor(admin), "create", "device", device.id, serial=body.serial)
    session.commit()
    return device


@router.patch("/devices/{device_id}", response_model=DeviceOut)
def update_device(device_id: IdPath, body: DeviceUpdateIn, admin: AdminDep, session: SessionDep) -> Device:
    """Move a patch to another gateway (or to none)."""
    device = session.get(Device, device_id)
    if device is None:
        raise not_found("device", device_id)
    _check_gateway(session, body.gateway_id)
    device.gateway_id = body.gateway_id
    session.add(device)
    audit(session, actor(admin), "update", "device", device_id, gateway_id=body.gateway_id)
    session.commit()
    return device


@router.get("/devices/{device_id}/assignments", response_model=list[AssignmentOut])
def list_assignments(device_id: IdPath, admin: AdminDep, session: SessionDep) -> list[DeviceAssignment]:
    if session.get(Device, device_id) is None:
        raise not_found("device", device_id)
    query = select(DeviceAssignment).where(col(DeviceAssignment.device_id) == device_id).order_by(col(DeviceAssignment.start))
    return list(session.execute(query).scalars())


@router.post("/devices/{device_id}/assignments", status_code=status.HTTP_201_CREATED, response_model=AssignmentOut)
def assign_device(device_id: IdPath, body: AssignmentIn, admin: AdminDep, session: SessionDep) -> DeviceAssignment:
    """The patch is worn by the patient from start until end (open-ended without one); periods may not overlap."""
    if session.get(Device, device_id) is None:
        raise not_found("device", device_id)
    if session.get(Patient, body.patient_id) is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no patient {body.patient_id}")
    for other in session.execute(select(DeviceAssignment).where(col(DeviceAssignment.device_id) == device_id)).scalars():
        if (other.end is None or body.start < other.end) and (body.end is None or other.start < body.end):
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"the patch is already worn by patient {other.patient_id} then"
            )
    assignment = DeviceAssignment(device_id=device_id, patient_id=body.patient_id, start=body.start, end=body.end)
    session.add(assignment)
    session.flush()
    audit(session, actor(admin), "assign", "device", device_id, patient_id=body.patient_id)
    session.commit()
    return assignment


def _check_gateway(session: SessionDep, gateway_id: int | None) -> None:
    if gateway_id is not None and session.get(Gateway, gateway_id) is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no gateway {gateway_id}")
