"""The access rules as one table: every endpoint × every kind of caller × ownership, on both databases.

Callers: nobody (no credentials), the gateway that owns the patch, another gateway, an administrator,
the doctor who owns the target (for user endpoints: the target user themself), and another doctor.
Each case gets fresh targets, so deleting one case's patient never affects another's.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from cloud_support import BACKENDS, CloudApp, ecg_like, fresh_database, make_cloud, saved_id, snippet_json
from sqlalchemy import insert
from sqlmodel import Session

from cloud.models import (
    Analysis,
    AuthSession,
    Device,
    DeviceAssignment,
    Event,
    Gateway,
    Patient,
    Record,
    Role,
    User,
    WaveformChunk,
)
from cloud.security import digest
from cloud.waveforms import chunk_rows

ACTORS = ("anon", "gateway", "other_gateway", "admin", "owner", "other")
PASSWORD = "correct horse"
_serial = itertools.count()


@dataclass
class World:
    """Fresh targets for one case, and the credentials of every caller."""

    ids: dict[str, int]
    headers: dict[str, dict[str, str]]

    def fill(self, template: str) -> str:
        return template.format(**self.ids)


@pytest.fixture(scope="module", params=BACKENDS)
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudApp]:
    folder = tmp_path_factory.mktemp(f"roles-{request.param}")
    app = make_cloud(fresh_database(request.param, folder), folder)
    yield app
    app.services.engine.dispose()


def build_world(cloud: CloudApp) -> World:
    n = next(_serial)
    now = datetime.now(UTC)
    hashed = cloud.services.passwords.hash(PASSWORD)
    with Session(cloud.services.engine, expire_on_commit=False) as s:
        users = {
            name: User(username=f"{name}{n}", email=f"{name}{n}@example.org", role=role, password_hash=hashed)
            for name, role in (("admin", Role.admin), ("owner", Role.doctor), ("other", Role.doctor), ("spare", Role.doctor))
        }
        gateways = {name: Gateway(name=name, key_hash=digest(f"key-{name}-{n}")) for name in ("gateway", "other_gateway")}
        s.add_all([*users.values(), *gateways.values()])
        s.flush()
        patient = Patient(name=f"patient {n}", doctor_id=saved_id(users["owner"]))
        device = Device(serial=f"P{n}", gateway_id=gateways["gateway"].id)
        s.add_all([patient, device])
        s.flush()
        s.add(DeviceAssignment(device_id=saved_id(device), patient_id=saved_id(patient), start=now - timedelta(days=1), end=now + timedelta(days=1)))
        frames = ecg_like(500).reshape(-1, 1)
        record = Record(
            patient_id=saved_id(patient), source="csv", fs=250.0, n_samples=500, leads=["I"], units=["mV"],
            lsb_mv=[0.001], chunk_frames=1 << 16,
        )
        s.add(record)
        s.flush()
        assert record.id is not None
        s.execute(insert(WaveformChunk), chunk_rows(record.id, frames))
        analysis = Analysis(record_id=record.id, status="done", result={"ok": True})
        event = Event(
            patient_id=saved_id(patient), device_id=saved_id(device), patch_event_id=1, type="VT", onset=now, confidence=0.9,
            snippet_record_id=record.id,
        )
        s.add_all([analysis, event])
        for name in ("admin", "owner", "other"):
            s.add(AuthSession(token_hash=digest(f"token-{name}-{n}"), user_id=saved_id(users[name]), expires_at=now + timedelta(hours=1)))
        s.commit()
        ids = {f"{k}_id": u.id for k, u in users.items()} | {
            "patient_id": patient.id, "device_id": device.id, "record_id": record.id, "event_id": event.id,
            "gateway_id": gateways["gateway"].id, "analysis_id": analysis.id, "n": n,
        }
    headers: dict[str, dict[str, str]] = {"anon": {}}
    for name in ("gateway", "other_gateway"):
        headers[name] = {"X-Gateway-Key": f"key-{name}-{n}"}
    for name in ("admin", "owner", "other"):
        headers[name] = {"Authorization": f"Bearer token-{name}-{n}"}
    return World({k: int(v) for k, v in ids.items() if v is not None}, headers)


def _batch(w: World) -> dict[str, Any]:
    onset = datetime.now(UTC).isoformat()
    return {
        "batch_id": f"b{w.ids['n']}",
        "events": [
            {"patch_serial": f"P{w.ids['n']}", "patch_event_id": 7, "type": "AF", "onset": onset, "confidence": 0.5,
             "snippet": snippet_json(ecg_like(250), onset)}
        ],
    }


def _csv_upload(w: World) -> dict[str, Any]:
    return {"data": {"patient_id": str(w.ids["patient_id"]), "fs": "250"}, "files": [("files", ("x.csv", b"0.1\n0.2\n0.3\n"))]}


def _ids(body: Any) -> set[int]:
    return {item["id"] for item in body}


Body = Callable[[World], dict[str, Any]] | None
U, NO, F, NF = 401, 403, 403, 404  # unauthenticated, forbidden, forbidden, hidden (not one's own)


@dataclass(frozen=True)
class Rule:
    method: str
    path: str
    expect: dict[str, int]  # actor -> status
    body: Callable[[World], Any] | None = None
    # For lists: the callers who must find the target (named by this id) in the answer.
    listed: tuple[str, tuple[str, ...]] | None = None
    kwargs: Callable[[World], dict[str, Any]] | None = None


def users_only(admin: int, owner: int, other: int) -> dict[str, int]:
    return {"anon": U, "gateway": U, "other_gateway": U, "admin": admin, "owner": owner, "other": other}


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ACTORS, status)


ADMIN_ONLY = users_only(200, NO, NO)
OWN = users_only(200, 200, NF)
LISTED = ("admin", "owner")
FUTURE = "2100-01-01T00:00:00Z"

RULES = [
    Rule("GET", "/health", everyone(200)),
    Rule("POST", "/auth/logout", users_only(204, 204, 204)),
    Rule("GET", "/users", ADMIN_ONLY, listed=("owner_id", ("admin",))),
    Rule("POST", "/users", users_only(201, NO, NO),
         body=lambda w: {"username": f"new{w.ids['n']}", "password": "long enough", "phone": f"+1555{w.ids['n']:06d}"}),
    Rule("GET", "/users/me", users_only(200, 200, 200)),
    Rule("GET", "/users/{owner_id}", users_only(200, 200, NO)),
    Rule("PATCH", "/users/{owner_id}", users_only(200, 200, NO), body=lambda w: {"full_name": "Dr Who"}),
    Rule("PATCH", "/users/{owner_id}", users_only(200, NO, NO), body=lambda w: {"username": f"renamed{w.ids['n']}"}),
    Rule("PATCH", "/users/{owner_id}", users_only(200, NO, NO), body=lambda w: {"role": "admin"}),
    Rule("PUT", "/users/{owner_id}/password", users_only(204, NO, NO), body=lambda w: {"new_password": "brand new pw"}),
    Rule("PUT", "/users/{owner_id}/password", users_only(204, 204, NO),
         body=lambda w: {"new_password": "brand new pw", "current_password": PASSWORD}),
    Rule("DELETE", "/users/{spare_id}", users_only(204, NO, NO)),
    Rule("DELETE", "/users/{owner_id}", users_only(409, NO, NO)),
    Rule("GET", "/patients", users_only(200, 200, 200), listed=("patient_id", LISTED)),
    Rule("POST", "/patients", users_only(201, 201, NO), body=lambda w: {"name": "New", "doctor_id": w.ids["owner_id"]}),
    Rule("GET", "/patients/{patient_id}", OWN),
    Rule("PATCH", "/patients/{patient_id}", OWN, body=lambda w: {"notes": "seen"}),
    Rule("PATCH", "/patients/{patient_id}", users_only(200, NO, NF), body=lambda w: {"doctor_id": w.ids["other_id"]}),
    Rule("DELETE", "/patients/{patient_id}", users_only(204, 204, NF)),
    Rule("GET", "/gateways", ADMIN_ONLY),
    Rule("POST", "/gateways", users_only(201, NO, NO), body=lambda w: {"name": "gw"}),
    Rule("POST", "/gateways/{gateway_id}/key", ADMIN_ONLY),
    Rule("DELETE", "/gateways/{gateway_id}", users_only(204, NO, NO)),
    Rule("GET", "/devices", ADMIN_ONLY),
    Rule("POST", "/devices", users_only(201, NO, NO), body=lambda w: {"serial": f"NEW{w.ids['n']}"}),
    Rule("PATCH", "/devices/{device_id}", ADMIN_ONLY, body=lambda w: {"gateway_id": None}),
    Rule("GET", "/devices/{device_id}/assignments", ADMIN_ONLY),
    Rule("POST", "/devices/{device_id}/assignments", users_only(201, NO, NO),
         body=lambda w: {"patient_id": w.ids["patient_id"], "start": FUTURE}),
    Rule("GET", "/records", users_only(200, 200, 200), listed=("record_id", LISTED)),
    Rule("POST", "/records/upload", users_only(201, 201, NF), kwargs=_csv_upload),
    Rule("GET", "/records/{record_id}", OWN),
    Rule("GET", "/records/{record_id}/samples", OWN),
    Rule("GET", "/records/{record_id}/analyses", OWN),
    Rule("POST", "/records/{record_id}/analyse", users_only(202, 202, NF)),
    Rule("POST", "/records/analyse", users_only(202, 202, 202), body=lambda w: {"record_ids": [w.ids["record_id"]]}),
    Rule("DELETE", "/records/{record_id}", users_only(204, 204, NF)),
    Rule("GET", "/events", users_only(200, 200, 200), listed=("event_id", LISTED)),
    Rule("GET", "/events/{event_id}", OWN),
    Rule("PUT", "/events/{event_id}/review", OWN, body=lambda w: {"status": "confirmed", "note": "true VT"}),
    Rule("DELETE", "/events/{event_id}", users_only(204, 204, NF)),
    Rule("GET", "/audit", ADMIN_ONLY),
    Rule("POST", "/ingest/batches", {"anon": U, "gateway": 200, "other_gateway": F, "admin": U, "owner": U, "other": U},
         body=_batch),
]
PUBLIC = {("POST", "/auth/login"), ("POST", "/auth/register")}  # tested in test_cloud_auth.py
CASES = [(rule, caller) for rule in RULES for caller in ACTORS]


def _case_id(case: tuple[Rule, str]) -> str:
    rule, caller = case
    detail = ""
    if rule.body is not None and rule.method == "PATCH":
        detail = "[" + ",".join(sorted(rule.body(World({"n": 0, "owner_id": 0, "other_id": 0}, {})))) + "]"
    return f"{rule.method} {rule.path}{detail} as {caller}"


@pytest.mark.parametrize("rule,caller", CASES, ids=[_case_id(c) for c in CASES])
def test_access(cloud: CloudApp, rule: Rule, caller: str) -> None:
    world = build_world(cloud)
    options: dict[str, Any] = {"headers": world.headers[caller]}
    if rule.body is not None:
        options["json"] = rule.body(world)
    if rule.kwargs is not None:
        options.update(rule.kwargs(world))
    response = cloud.client.request(rule.method, world.fill(rule.path), **options)
    assert response.status_code == rule.expect[caller], response.text
    if rule.listed is not None and response.status_code == 200:
        key, seers = rule.listed
        assert (world.ids[key] in _ids(response.json())) == (caller in seers), response.text
    if rule.path == "/records/analyse" and response.status_code == 202:
        # Another doctor's record is silently out of scope: nothing queued for it.
        assert bool(response.json()["queued"]) == (caller in LISTED)


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_every_route_is_in_the_table(cloud: CloudApp) -> None:
    paths = cloud.app.openapi()["paths"]
    routes = {(method.upper(), _shape(path)) for path, operations in paths.items() for method in operations}
    covered = {(rule.method, _shape(rule.path)) for rule in RULES} | PUBLIC
    assert routes == covered


def test_audit_names_who_saw_and_changed_what(cloud: CloudApp) -> None:
    world = build_world(cloud)
    owner = world.headers["owner"]
    assert cloud.client.get(world.fill("/records/{record_id}"), headers=owner).status_code == 200
    review = {"status": "confirmed", "note": ""}
    assert cloud.client.put(world.fill("/events/{event_id}/review"), json=review, headers=owner).status_code == 200
    assert cloud.client.delete(world.fill("/events/{event_id}"), headers=world.headers["admin"]).status_code == 204
    log = cloud.client.get("/audit", params={"limit": 1000}, headers=world.headers["admin"]).json()
    entries = {(e["actor_id"], e["action"], e["target_kind"], e["target_id"]) for e in log}
    assert (world.ids["owner_id"], "view", "record", world.ids["record_id"]) in entries
    assert (world.ids["owner_id"], "confirm", "event", world.ids["event_id"]) in entries
    assert (world.ids["admin_id"], "delete", "event", world.ids["event_id"]) in entries


def test_samples_are_the_stored_waveform(cloud: CloudApp) -> None:
    world = build_world(cloud)
    response = cloud.client.get(
        world.fill("/records/{record_id}/samples"), params={"start": 100, "count": 50}, headers=world.headers["owner"]
    )
    assert response.status_code == 200
    expected = ecg_like(500)[100:150] * 0.001
    assert np.allclose(np.frombuffer(response.content, "<f4"), expected, atol=1e-6)
    assert response.headers["X-Frames"] == "50"
