"""Registration, login (username, e-mail or phone) with back-off after failures, logout."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from cloud import throttle
from cloud.api.deps import NowDep, ServicesDep, SessionDep, UserDep, actor, bearer
from cloud.audit import ANONYMOUS, audit
from cloud.models import AuthSession, Role, User
from cloud.schemas import LoginIn, RegisterIn, TokenOut, UserOut, normalise_email, normalise_phone
from cloud.security import digest, new_token

router = APIRouter(prefix="/auth", tags=["auth"])
# Client addresses share a larger allowance than one account: a clinic's staff may sit behind one address.
IP_ALLOWANCE_FACTOR = 5


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
def register(body: RegisterIn, session: SessionDep, services: ServicesDep) -> User:
    """Sign up as a doctor; the account stays inactive until an administrator activates it."""
    user = User(
        username=body.username,
        email=body.email,
        phone=body.phone,
        full_name=body.full_name,
        role=Role.doctor,
        active=False,
        password_hash=services.passwords.hash(body.password),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise HTTPException(status.HTTP_409_CONFLICT, "username, e-mail or phone already registered") from None
    audit(session, ANONYMOUS, "register", "user", user.id)
    session.commit()
    return user


def find_login(session: SessionDep, login: str) -> User | None:
    """The user whose username, e-mail or phone number is `login`."""
    candidates = [login]
    for normalise in (normalise_email, normalise_phone):
        try:
            value = normalise(login)
        except ValueError:
            continue
        if value is not None:
            candidates.append(value)
    return session.execute(
        select(User).where(
            or_(col(User.username) == login, col(User.email).in_(candidates), col(User.phone).in_(candidates))
        )
    ).scalars().first()


@router.post(
    "/login",
    response_model=TokenOut,
    responses={401: {"description": "wrong login or password"}, 429: {"description": "too many failures"}},
)
def login(body: LoginIn, request: Request, session: SessionDep, services: ServicesDep, moment: NowDep) -> TokenOut:
    settings = services.settings
    user = find_login(session, body.login.strip())
    account_key = f"user:{user.id}" if user is not None else f"login:{body.login.strip().lower()}"
    ip_key = f"ip:{request.client.host if request.client else 'unknown'}"
    wait = throttle.wait_s(session, [account_key, ip_key], moment)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed logins: try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    if not services.passwords.verify(user.password_hash if user else None, body.password) or user is None:
        throttle.record_failure(
            session,
            {account_key: settings.login_free_failures, ip_key: settings.login_free_failures * IP_ALLOWANCE_FACTOR},
            moment,
            settings.login_backoff_s,
            settings.login_backoff_max_s,
        )
        audit(session, ANONYMOUS, "login_failed", "user", user.id if user else None)
        session.commit()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong login or password")
    if not user.active:
        session.commit()
        raise HTTPException(status.HTTP_403_FORBIDDEN, "account not active: an administrator must activate it")
    throttle.clear(session, account_key)
    token = new_token()
    expires_at = moment + timedelta(seconds=settings.token_ttl_s)
    assert user.id is not None
    session.add(AuthSession(token_hash=digest(token), user_id=user.id, created_at=moment, expires_at=expires_at))
    session.execute(delete(AuthSession).where(col(AuthSession.expires_at) < moment))
    audit(session, actor(user), "login", "user", user.id)
    session.commit()
    return TokenOut(access_token=token, expires_at=expires_at)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    user: UserDep, session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    if credentials is not None:
        session.execute(delete(AuthSession).where(col(AuthSession.token_hash) == digest(credentials.credentials)))
    audit(session, actor(user), "logout", "user", user.id)
    session.commit()
