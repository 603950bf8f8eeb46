"""Registration, login by username, e-mail or phone, expiring tokens, and back-off after failed logins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cloud_support import BACKENDS, CloudApp, fresh_database, make_cloud
from sqlmodel import Session

from cloud.api.deps import now
from cloud.models import Role, User


class Clock:
    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture(params=BACKENDS)
def cloud(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[CloudApp, Clock]]:
    app = make_cloud(fresh_database(request.param, tmp_path), tmp_path, token_ttl_s=3600)
    clock = Clock()
    app.app.dependency_overrides[now] = clock
    with Session(app.services.engine) as session:
        session.add(User(username="root", email="root@example.org", role=Role.admin,
                         password_hash=app.services.passwords.hash("admin password")))
        session.commit()
    yield app, clock
    app.services.engine.dispose()


def login(app: CloudApp, who: str, password: str) -> int:
    response = app.client.post("/auth/login", json={"login": who, "password": password})
    return response.status_code


def bearer(app: CloudApp, who: str, password: str) -> dict[str, str]:
    response = app.client.post("/auth/login", json={"login": who, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_registration_waits_for_an_administrator(cloud: tuple[CloudApp, Clock]) -> None:
    app, _ = cloud
    form = {"username": "house", "password": "vicodin123", "phone": "+1 (609) 555-0100"}
    created = app.client.post("/auth/register", json=form)
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "doctor" and created.json()["active"] is False
    assert app.client.post("/auth/register", json=form).status_code == 409
    assert login(app, "+16095550100", "vicodin123") == 403
    admin = bearer(app, "root@example.org", "admin password")
    assert app.client.patch(f"/users/{created.json()['id']}", json={"active": True}, headers=admin).status_code == 200
    for name in ("house", "+1 609 555 0100", "+16095550100"):
        assert login(app, name, "vicodin123") == 200, name


def test_registration_needs_email_or_phone(cloud: tuple[CloudApp, Clock]) -> None:
    app, _ = cloud
    response = app.client.post("/auth/register", json={"username": "nobody", "password": "long enough"})
    assert response.status_code == 422
    assert "e-mail address or a phone number" in response.text


def test_login_by_email_is_case_insensitive_and_tokens_expire(cloud: tuple[CloudApp, Clock]) -> None:
    app, clock = cloud
    headers = bearer(app, "ROOT@Example.org", "admin password")
    assert app.client.get("/users/me", headers=headers).status_code == 200
    clock.advance(3599)
    assert app.client.get("/users/me", headers=headers).status_code == 200
    clock.advance(2)
    expired = app.client.get("/users/me", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.text


def test_logout_revokes_the_token(cloud: tuple[CloudApp, Clock]) -> None:
    app, _ = cloud
    headers = bearer(app, "root", "admin password")
    assert app.client.post("/auth/logout", headers=headers).status_code == 204
    assert app.client.get("/users/me", headers=headers).status_code == 401


def test_failed_logins_back_off_per_account(cloud: tuple[CloudApp, Clock]) -> None:
    app, clock = cloud
    free = app.settings.login_free_failures
    for _ in range(free):
        assert login(app, "root", "wrong") == 401
    assert login(app, "root", "wrong") == 401  # this failure starts the back-off
    locked = app.client.post("/auth/login", json={"login": "root", "password": "admin password"})
    assert locked.status_code == 429, "even the right password waits out the back-off"
    assert int(locked.headers["Retry-After"]) == 1
    clock.advance(1.5)
    assert login(app, "root", "wrong") == 401
    second = app.client.post("/auth/login", json={"login": "root", "password": "admin password"})
    assert second.status_code == 429 and int(second.headers["Retry-After"]) == 2, "the wait doubles"
    clock.advance(2.5)
    assert login(app, "root", "admin password") == 200
    assert login(app, "root", "wrong") == 401, "a success clears the account's count"
    assert login(app, "root", "admin password") == 200


def test_failed_logins_back_off_per_address(cloud: tuple[CloudApp, Clock]) -> None:
    """Guessing across many accounts from one address is slowed down too."""
    app, _ = cloud
    allowance = app.settings.login_free_failures * 5
    for i in range(allowance + 1):
        assert login(app, f"nobody{i}@example.org", "guess") == 401
    assert login(app, "root", "admin password") == 429


def test_doctor_changes_password_only_with_the_current_one(cloud: tuple[CloudApp, Clock]) -> None:
    app, _ = cloud
    admin = bearer(app, "root", "admin password")
    doctor = app.client.post(
        "/users", json={"username": "grey", "password": "first password", "email": "grey@example.org"}, headers=admin
    ).json()
    headers = bearer(app, "grey", "first password")
    path = f"/users/{doctor['id']}/password"
    assert app.client.put(path, json={"new_password": "second password"}, headers=headers).status_code == 403
    wrong = {"new_password": "second password", "current_password": "not it"}
    assert app.client.put(path, json=wrong, headers=headers).status_code == 403
    right = {"new_password": "second password", "current_password": "first password"}
    assert app.client.put(path, json=right, headers=headers).status_code == 204
    assert app.client.get("/users/me", headers=headers).status_code == 401, "old sessions end with the old password"
    assert login(app, "grey", "second password") == 200
    # An administrator resets it without knowing it.
    assert app.client.put(path, json={"new_password": "third password"}, headers=admin).status_code == 204
    assert login(app, "grey", "third password") == 200


def test_passwords_are_stored_as_argon2_hashes(cloud: tuple[CloudApp, Clock]) -> None:
    app, _ = cloud
    with Session(app.services.engine) as session:
        stored = session.get(User, 1)
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$") and "admin password" not in stored.password_hash


def test_doctor_cannot_promote_or_rename_themself(cloud: tuple[CloudApp, Clock]) -> None:
    app, _ = cloud
    admin = bearer(app, "root", "admin password")
    doctor = app.client.post(
        "/users", json={"username": "cuddy", "password": "dean password", "email": "cuddy@example.org"}, headers=admin
    ).json()
    headers = bearer(app, "cuddy", "dean password")
    path = f"/users/{doctor['id']}"
    for change in ({"username": "boss"}, {"role": "admin"}, {"active": False}):
        assert app.client.patch(path, json=change, headers=headers).status_code == 403, change
    unchanged = app.client.patch(path, json={"username": "cuddy", "full_name": "Lisa Cuddy"}, headers=headers)
    assert unchanged.status_code == 200 and unchanged.json()["full_name"] == "Lisa Cuddy"
    assert app.client.get("/users/me", headers=headers).json()["role"] == "doctor"
