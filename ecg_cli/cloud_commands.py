"""`ecg cloud ...`: run the cloud service, its analysis workers and its database migrations."""

from __future__ import annotations

import argparse
from typing import Any


def register(groups: Any) -> None:
    cloud = groups.add_parser("cloud", help="the cloud service: API server, analysis workers, database")
    commands = cloud.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API under uvicorn (migrates the database first)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    serve.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    serve.add_argument("--no-access-log", dest="access_log", action="store_false", help="no line per request")
    serve.add_argument(
        "--forwarded-allow-ips", default="127.0.0.1", help="proxies trusted for X-Forwarded-* (default 127.0.0.1)"
    )
    _storage_options(serve)
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("worker", help="run the analysis workers (huey consumer)")
    worker.add_argument("--workers", type=int, default=1, help="worker threads (default 1)")
    _storage_options(worker)
    worker.set_defaults(run=_worker)

    migrate = commands.add_parser("migrate", help="bring the database to the newest schema")
    migrate.add_argument("--revision", default="head", help="target revision (default head)")
    _storage_options(migrate)
    migrate.set_defaults(run=_migrate)

    admin = commands.add_parser(
        "create-admin", help="create an administrator (password from $ECG_CLOUD_ADMIN_PASSWORD or a prompt)"
    )
    admin.add_argument("--username", required=True)
    admin.add_argument("--email")
    admin.add_argument("--phone")
    _storage_options(admin)
    admin.set_defaults(run=_create_admin)

    openapi = commands.add_parser("openapi", help="print the API's OpenAPI schema")
    openapi.add_argument("--json", help="write it here instead")
    openapi.set_defaults(run=_openapi)


def _storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data folder (default $ECG_CLOUD_DATA_DIR or ./cloud-data)")
    parser.add_argument("--db-url", help="database URL (default $ECG_CLOUD_DB_URL or SQLite in the data folder)")
    parser.add_argument("--redis-url", help="task queue on Redis (default $ECG_CLOUD_REDIS_URL or SQLite)")


def _serve(args: argparse.Namespace) -> int:
    from cloud.cli import serve

    return serve(args)


def _worker(args: argparse.Namespace) -> int:
    from cloud.cli import worker

    return worker(args)


def _migrate(args: argparse.Namespace) -> int:
    from cloud.cli import migrate_command

    return migrate_command(args)


def _create_admin(args: argparse.Namespace) -> int:
    from cloud.cli import create_admin

    return create_admin(args)


def _openapi(args: argparse.Namespace) -> int:
    from cloud.cli import openapi

    return openapi(args)
