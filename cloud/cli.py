"""What `ecg cloud ...` runs: the server under uvicorn, the analysis workers, migrations, first admin."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import logging
import os
import sys
from pathlib import Path

from cloud.settings import Settings, settings_from_env

ADMIN_PASSWORD_ENV = "ECG_CLOUD_ADMIN_PASSWORD"


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Command-line options become environment variables, so uvicorn's worker processes see them too."""
    if getattr(args, "data_dir", None):
        os.environ["ECG_CLOUD_DATA_DIR"] = str(Path(args.data_dir).resolve())
    if getattr(args, "db_url", None):
        os.environ["ECG_CLOUD_DB_URL"] = args.db_url
    if getattr(args, "redis_url", None):
        os.environ["ECG_CLOUD_REDIS_URL"] = args.redis_url
    return settings_from_env()


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from cloud.migrate import migrate

    settings = settings_from_args(args)
    migrate(settings.db_url)  # once here, not in each worker process
    os.environ["ECG_CLOUD_MIGRATE_ON_START"] = "0"
    uvicorn.run(
        "cloud.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
    return 0


def worker(args: argparse.Namespace) -> int:
    from cloud.migrate import migrate
    from cloud.queue import AnalysisQueue

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from_args(args)
    migrate(settings.db_url)
    queue = AnalysisQueue(settings)
    queue.requeue_stale()
    queue.consumer(workers=args.workers).run()
    return 0


def migrate_command(args: argparse.Namespace) -> int:
    from cloud.migrate import migrate

    settings = settings_from_args(args)
    migrate(settings.db_url, args.revision)
    print(f"database at {settings.db_url.split('@')[-1]} is at revision {args.revision}")
    return 0


def create_admin(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import Session

    from cloud.db import make_engine
    from cloud.migrate import migrate
    from cloud.models import Role, User
    from cloud.schemas import UserCreateIn
    from cloud.security import Passwords
    from ecg_cli.main import UserFacingError

    settings = settings_from_args(args)
    password = os.environ.get(ADMIN_PASSWORD_ENV) or getpass.getpass("password for the new administrator: ")
    try:
        body = UserCreateIn(username=args.username, email=args.email, phone=args.phone, password=password, role=Role.admin)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from None
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    with Session(engine) as session:
        user = User(
            username=body.username,
            email=body.email,
            phone=body.phone,
            role=Role.admin,
            password_hash=Passwords(settings.argon2).hash(body.password),
        )
        session.add(user)
        try:
            session.commit()
        except IntegrityError:
            raise UserFacingError("that username, e-mail or phone number is already taken") from None
        print(f"administrator {user.username} created (id {user.id})")
    engine.dispose()
    return 0


def openapi(args: argparse.Namespace) -> int:
    from cloud.app import create_app

    settings = dataclasses.replace(settings_from_env(), migrate_on_start=False)
    schema = create_app(settings).openapi()
    text = json.dumps(schema, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0
