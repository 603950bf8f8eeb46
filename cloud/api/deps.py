"""What routes depend on: the service's parts, a database session, the caller and the time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from cloud.audit import Actor
from cloud.models import AuthSession, Gateway, Role, User, utcnow
from cloud.queue import AnalysisQueue
from cloud.schemas import MAX_ID
from cloud.security import Passwords, digest
from cloud.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: Engine
    queue: AnalysisQueue
    passwords: Passwords


IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]

bearer = HTTPBearer(auto_error=False, description="token from POST /auth/login")
gateway_key = APIKeyHeader(name="X-Gateway-Key", auto_error=False, description="key from POST /gateways")


def get_services(request: Request) -> Services:
    return request.app.state.services


def now() -> datetime:
    """The current time; tests override this dependency to move the clock."""
    return utcnow()


def get_session(services: Annotated[Services, Depends(get_services)]) -> Iterator[Session]:
    with Session(services.engine, expire_on_commit=False) as session:
        yield session


ServicesDep = Annotated[Services, Depends(get_services)]
SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(now)]


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def current_user(
    session: SessionDep,
    moment: NowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> User:
    if credentials is None:
        raise _unauthorised("log in first: send Authorization: Bearer <token>")
    row = session.execute(
        select(User, col(AuthSession.expires_at))
        .join(AuthSession, col(AuthSession.user_id) == col(User.id))
        .where(col(AuthSession.token_hash) == digest(credentials.credentials))
    ).first()
    if row is None:
        raise _unauthorised("unknown or revoked token")
    user, expires_at = row
    if expires_at <= moment:
        raise _unauthorised("token expired: log in again")
    if not user.active:
        raise _unauthorised("account disabled")
    return user


UserDep = Annotated[User, Depends(current_user)]


def require_admin(user: UserDep) -> User:
    if user.role != Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "administrators only")
    return user


AdminDep = Annotated[User, Depends(require_admin)]


def current_gateway(
    session: SessionDep, key: Annotated[str | None, Security(gateway_key)]
) -> Gateway:
    if not key:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "send the gateway's key in X-Gateway-Key")
    gateway = session.execute(select(Gateway).where(col(Gateway.key_hash) == digest(key))).scalars().first()
    if gateway is None or not gateway.active:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or disabled gateway key")
    # The ingest route opens its own transactions; this lookup's must not stay open meanwhile.
    session.commit()
    return gateway


GatewayDep = Annotated[Gateway, Depends(current_gateway)]


def actor(user: User) -> Actor:
    return Actor("user", user.id)


def is_admin(user: User) -> bool:
    return user.role == Role.admin


def not_found(kind: str, item_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no {kind} {item_id}")
