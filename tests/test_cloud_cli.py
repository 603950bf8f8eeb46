"""`ecg cloud ...` as a person runs it: create an administrator, serve with several workers, log in over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cloud.queue import make_huey
from cloud.settings import Settings, sqlite_url
from cloud.throwaway_pg import free_port

ROOT = Path(__file__).parent.parent
# The `ecg` entry point, run by this interpreter (`-m ecg_cli.main` would load main.py twice).
ECG = [sys.executable, "-c", "import sys; from ecg_cli.main import main; sys.exit(main(sys.argv[1:]))"]


def ecg(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ECG, *args], cwd=ROOT, env={**os.environ, **(env or {})},
        capture_output=True, text=True, timeout=120,
    )


def test_create_admin_then_serve_with_two_workers(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "cloud.db")
    made = ecg("cloud", "create-admin", "--username", "boss", "--email", "boss@example.org", "--db-url", url,
               "--data-dir", str(tmp_path), env={"ECG_CLOUD_ADMIN_PASSWORD": "long password"})
    assert made.returncode == 0, made.stderr
    again = ecg("cloud", "create-admin", "--username", "boss", "--email", "b@example.org", "--db-url", url,
                "--data-dir", str(tmp_path), env={"ECG_CLOUD_ADMIN_PASSWORD": "long password"})
    assert again.returncode == 2 and "already taken" in again.stderr

    port = free_port()
    argv = [*ECG, "cloud", "serve", "--port", str(port), "--workers", "2",
            "--db-url", url, "--data-dir", str(tmp_path), "--log-level", "warning"]
    server = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        login = httpx.post(f"{base}/auth/login", json={"login": "boss@example.org", "password": "long password"})
        assert login.status_code == 200
        me = httpx.get(f"{base}/users/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert me.json()["role"] == "admin"
        assert "/ingest/batches" in httpx.get(f"{base}/openapi.json").json()["paths"]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_openapi_command_writes_the_schema(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    done = ecg("cloud", "openapi", "--json", str(out), env={"ECG_CLOUD_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    schema = json.loads(out.read_text())
    assert {"BatchIn", "EventIn", "SnippetIn"} <= set(schema["components"]["schemas"])


def test_queue_on_redis_when_a_redis_url_is_set(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, db_url=sqlite_url(tmp_path / "c.db"), redis_url="redis://127.0.0.1:1/0")
    try:
        import redis  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="redis package is missing"):
            make_huey(settings)
        return
    from huey import RedisHuey

    assert isinstance(make_huey(settings), RedisHuey)  # built without connecting


def test_queue_on_sqlite_by_default(tmp_path: Path) -> None:
    from huey import SqliteHuey

    huey = make_huey(Settings(data_dir=tmp_path / "data", db_url=sqlite_url(tmp_path / "c.db")))
    assert isinstance(huey, SqliteHuey) and (tmp_path / "data").is_dir()
