"""Users: administrators manage everyone; a doctor sees and edits only their own profile."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from cloud.api.deps import AdminDep, IdPath, ServicesDep, SessionDep, UserDep, actor, is_admin, not_found
from cloud.audit import audit
from cloud.models import AuthSession, Patient, Role, User
from cloud.schemas import PasswordChangeIn, UserCreateIn, UserOut, UserUpdateIn

router = APIRouter(prefix="/users", tags=["users"])
ADMIN_ONLY_FIELDS = ("username", "role", "active")


@router.get("", response_model=list[UserOut])
def list_users(admin: AdminDep, session: SessionDep) -> list[User]:
    users = list(session.execute(select(User).order_by(col(User.id))).scalars())
    audit(session, actor(admin), "list", "user", None, count=len(users))
    session.commit()
    return users


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserOut)
def create_user(body: UserCreateIn, admin: AdminDep, session: SessionDep, services: ServicesDep) -> User:
    user = User(
        username=body.username,
        email=body.email,
        phone=body.phone,
        full_name=body.full_name,
        role=body.role,
        active=body.active,
        password_hash=services.passwords.hash(body.password),
    )
    session.add(user)
    _flush_unique(session)
    audit(session, actor(admin), "create", "user", user.id, role=body.role)
    session.commit()
    return user


@router.get("/me", response_model=UserOut)
def me(user: UserDep) -> User:
    return user


def _target(session: SessionDep, caller: User, user_id: int) -> User:
    """The user a caller may act on: anyone for an administrator, only themselves for a doctor."""
    if not is_admin(caller) and caller.id != user_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "doctors may act only on their own account")
    target = session.get(User, user_id)
    if target is None:
        raise not_found("user", user_id)
    return target


@router.get("/{user_id}", response_model=UserOut)
def get_user(user_id: IdPath, caller: UserDep, session: SessionDep) -> User:
    target = _target(session, caller, user_id)
    audit(session, actor(caller), "view", "user", user_id)
    session.commit()
    return target


@router.patch("/{user_id}", response_model=UserOut)
def update_user(user_id: IdPath, body: UserUpdateIn, caller: UserDep, session: SessionDep) -> User:
    target = _target(session, caller, user_id)
    changes = body.model_dump(exclude_unset=True)
    if not is_admin(caller):
        refused = [f for f in ADMIN_ONLY_FIELDS if f in changes and changes[f] != getattr(target, f)]
        if refused:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"only an administrator may change {', '.join(refused)}")
    nulls = [f for f in ADMIN_ONLY_FIELDS if f in changes and changes[f] is None]
    if nulls:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{', '.join(nulls)} cannot be null")
    demoting = changes.get("role", Role.admin) != Role.admin or changes.get("active") is False
    if caller.id == target.id and is_admin(caller) and demoting:
        raise HTTPException(status.HTTP_409_CONFLICT, "administrators cannot demote or disable themselves")
    for field, value in changes.items():
        setattr(target, field, value)
    if target.email is None and target.phone is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "keep an e-mail address or a phone number")
    session.add(target)
    _flush_unique(session)
    audit(session, actor(caller), "update", "user", user_id, fields=sorted(changes))
    session.commit()
    return target


@router.put("/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(
    user_id: IdPath, body: PasswordChangeIn, caller: UserDep, session: SessionDep, services: ServicesDep
) -> None:
    """Administrators reset anyone's password; a doctor gives their current one to change it."""
    target = _target(session, caller, user_id)
    if not is_admin(caller) and not services.passwords.verify(target.password_hash, body.current_password or ""):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the current password is wrong or missing")
    target.password_hash = services.passwords.hash(body.new_password)
    session.add(target)
    # Every session of the account ends with its old password.
    session.execute(delete(AuthSession).where(col(AuthSession.user_id) == target.id))
    action = "change_password" if caller.id == target.id else "reset_password"
    audit(session, actor(caller), action, "user", user_id)
    session.commit()


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(user_id: IdPath, admin: AdminDep, session: SessionDep) -> None:
    target = session.get(User, user_id)
    if target is None:
        raise not_found("user", user_id)
    if target.id == admin.id:
        raise HTTPException(status.HTTP_409_CONFLICT, "administrators cannot delete themselves")
    patients = session.execute(select(func.count()).where(col(Patient.doctor_id) == user_id)).scalar_one()
    if patients:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"user {user_id} is the doctor of {patients} patients: reassign them first"
        )
    session.delete(target)
    audit(session, actor(admin), "delete", "user", user_id, username=target.username)
    session.commit()


def _flush_unique(session: SessionDep) -> None:
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, "username, e-mail or phone already in use") from None
