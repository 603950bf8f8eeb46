"""Property-based requests from the OpenAPI schema (schemathesis): no answer is a server error.

Calls are made as an administrator who also holds a gateway key, so the checks reach past
authentication. Examples are few per operation to keep CI short.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from cloud_support import CloudApp, fresh_database, make_cloud, saved_id  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from sqlmodel import Session  # noqa: E402

from cloud.models import AuthSession, Device, DeviceAssignment, Gateway, Patient, Role, User  # noqa: E402
from cloud.security import digest  # noqa: E402

HEADERS = {"Authorization": "Bearer admin-token", "X-Gateway-Key": "gateway-key"}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudApp]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    app = make_cloud(fresh_database("sqlite", folder), folder)
    with Session(app.services.engine) as s:
        admin = User(username="admin", email="admin@example.org", role=Role.admin, password_hash="x")
        gateway = Gateway(name="gw", key_hash=digest("gateway-key"))
        s.add_all([admin, gateway])
        s.flush()
        s.add(AuthSession(token_hash=digest("admin-token"), user_id=saved_id(admin), expires_at=datetime.now(UTC) + timedelta(days=1)))
        patient = Patient(name="P", doctor_id=saved_id(admin))
        device = Device(serial="A1", gateway_id=gateway.id)
        s.add_all([patient, device])
        s.flush()
        s.add(DeviceAssignment(device_id=saved_id(device), patient_id=saved_id(patient), start=datetime(2000, 1, 1, tzinfo=UTC)))
        s.commit()
    yield app
    app.services.engine.dispose()


def operations(cloud: CloudApp) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", cloud.app)
    # Logging out or changing the caller's own password would end the session the run depends on.
    schema = schema.exclude(path="/auth/logout").exclude(path_regex=r"^/users/\{user_id\}/password$")
    return [result.ok() for result in schema.get_all_operations()]


def test_no_server_errors(cloud: CloudApp) -> None:
    """Every operation, a few generated requests each (schemathesis's pytest plugin does not run on pytest 9)."""
    checked = []
    for operation in operations(cloud):

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: Any) -> None:
            case.call_and_validate(headers=HEADERS, checks=[not_a_server_error])

        call()
        checked.append(operation.label)
    assert len(checked) >= 35, checked
