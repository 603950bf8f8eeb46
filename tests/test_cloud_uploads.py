"""Whole records uploaded from a PC: WFDB, CinC .mat and CSV; a malformed upload is refused whole with a reason."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import scipy.io
import wfdb
from cloud_support import BACKENDS, CloudApp, ecg_like, fresh_database, make_cloud, saved_id
from sqlalchemy import func, select
from sqlmodel import Session

from cloud.models import Analysis, Patient, Record, Role, User, WaveformChunk
from cloud.security import digest

TOKEN = "doctor-token"
FS = 250


@pytest.fixture(scope="module", params=BACKENDS)
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudApp]:
    from datetime import UTC, datetime, timedelta

    from cloud.models import AuthSession

    folder = tmp_path_factory.mktemp(f"uploads-{request.param}")
    app = make_cloud(fresh_database(request.param, folder), folder)
    with Session(app.services.engine) as s:
        doctor = User(username="doc", email="doc@example.org", role=Role.doctor, password_hash="x")
        s.add(doctor)
        s.flush()
        s.add(Patient(name="P", doctor_id=saved_id(doctor)))
        s.add(AuthSession(token_hash=digest(TOKEN), user_id=saved_id(doctor), expires_at=datetime.now(UTC) + timedelta(hours=1)))
        s.commit()
    yield app
    app.services.engine.dispose()


@pytest.fixture(scope="module")
def wfdb_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A two-lead, 20-s WFDB record (format 16, 200 units/mV) with beat annotations."""
    folder = tmp_path_factory.mktemp("wfdb")
    digital = np.stack([ecg_like(FS * 20, 1), ecg_like(FS * 20, 2) // 2], axis=1).astype(np.int16)
    wfdb.wrsamp("rec", fs=FS, units=["mV", "mV"], sig_name=["MLII", "V1"], d_signal=digital.astype(np.int64),
                fmt=["16", "16"], adc_gain=[200.0, 200.0], baseline=[0, 0], write_dir=str(folder))
    wfdb.wrann("rec", "atr", np.arange(100, FS * 20, 200), symbol=["N"] * 25, write_dir=str(folder))
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def cinc_files() -> dict[str, bytes]:
    """A CinC 2017-style record: int16 `val` in a .mat, WFDB header, 300 Hz, 1000 units/mV."""
    import io

    val = ecg_like(3000, 3).reshape(1, -1)
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"val": val})
    header = "A09999 1 300 3000 05:05:15 1/05/2000\nA09999.mat 16+24 1000/mV 16 0 {first} 0 0 ECG\n"
    return {"A09999.hea": header.format(first=int(val[0, 0])).encode(), "A09999.mat": buffer.getvalue()}


def upload(app: CloudApp, files: dict[str, bytes], **form: str) -> tuple[int, str]:
    response = app.client.post(
        "/records/upload",
        data={"patient_id": "1", **form},
        files=[("files", (name, data)) for name, data in files.items()],
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    return response.status_code, response.text


def stored(app: CloudApp) -> list[int]:
    with Session(app.services.engine) as s:
        return [s.execute(select(func.count()).select_from(t)).scalar_one() for t in (Record, WaveformChunk, Analysis)]


def samples(app: CloudApp, record_id: int, count: int) -> np.ndarray:
    response = app.client.get(
        f"/records/{record_id}/samples", params={"count": count}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200
    return np.frombuffer(response.content, "<f4").reshape(count, -1)


def test_wfdb_record_is_stored_exactly(cloud: CloudApp, wfdb_files: dict[str, bytes]) -> None:
    status, text = upload(cloud, wfdb_files)
    assert status == 201, text
    record = cloud.client.get("/records", headers={"Authorization": f"Bearer {TOKEN}"}).json()[0]
    assert (record["source"], record["fs"], record["n_samples"], record["leads"]) == ("wfdb", 250.0, 5000, ["MLII", "V1"])
    assert record["lsb_mv"] == [0.005, 0.005] and record["meta"]["annotations"] == 25
    expected = np.stack([ecg_like(FS * 20, 1), ecg_like(FS * 20, 2) // 2], axis=1) / 200.0
    assert np.allclose(samples(cloud, record["id"], 5000), expected, atol=1e-6)
    assert record["analysis_status"] == "queued"


def test_cinc_record_is_stored(cloud: CloudApp, cinc_files: dict[str, bytes]) -> None:
    status, text = upload(cloud, cinc_files)
    assert status == 201, text
    record = cloud.client.get("/records", headers={"Authorization": f"Bearer {TOKEN}"}).json()[0]
    assert (record["source"], record["fs"], record["n_samples"], record["lsb_mv"]) == ("cinc", 300.0, 3000, [0.001])
    assert np.allclose(samples(cloud, record["id"], 3000)[:, 0], ecg_like(3000, 3) / 1000.0, atol=1e-6)


def test_csv_with_header_line_in_microvolts(cloud: CloudApp) -> None:
    rows = "\n".join(f"{v},{-v}" for v in (100, 250, -50, 0))
    status, text = upload(cloud, {"strip.csv": f"I,II\n{rows}\n".encode()}, fs="500", units="uV")
    assert status == 201, text
    record = cloud.client.get("/records", headers={"Authorization": f"Bearer {TOKEN}"}).json()[0]
    assert record["leads"] == ["I", "II"] and record["fs"] == 500.0
    assert np.allclose(samples(cloud, record["id"], 4)[:, 0], [0.1, 0.25, -0.05, 0.0], atol=1e-6)


def _truncated(files: dict[str, bytes]) -> dict[str, bytes]:
    return {**files, "rec.dat": files["rec.dat"][:1000]}


def _header_lies(files: dict[str, bytes]) -> dict[str, bytes]:
    first, rest = files["rec.hea"].split(b"\n", 1)
    return {**files, "rec.hea": first.replace(b" 5000", b" 6000") + b"\n" + rest}


def _checksum_lies(files: dict[str, bytes]) -> dict[str, bytes]:
    lines = files["rec.hea"].decode().splitlines()
    fields = lines[1].split()
    fields[6] = str((int(fields[6]) + 1) % 65536)
    return {**files, "rec.hea": "\n".join([lines[0], " ".join(fields), *lines[2:]]).encode() + b"\n"}


def _wrong_mat_variable(files: dict[str, bytes]) -> dict[str, bytes]:
    import io

    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"data": ecg_like(3000).reshape(1, -1)})
    return {**files, "A09999.mat": buffer.getvalue()}


WFDB_DAMAGE = [
    (_truncated, "truncated"),
    (_header_lies, "truncated"),
    (_checksum_lies, "checksum"),
    (lambda f: {k: v for k, v in f.items() if k != "rec.dat"}, "missing signal file"),
    (lambda f: {**f, "rec.dat": b""}, "empty file"),
    (lambda f: {**f, "rec.hea": b"this is not a header\n"}, "rec.hea"),
    (lambda f: {**f, "notes.txt": b"hello"}, "unsupported file type"),
]


@pytest.mark.parametrize("damage,words", WFDB_DAMAGE, ids=[w for _, w in WFDB_DAMAGE])
def test_damaged_wfdb_upload_is_refused(
    cloud: CloudApp, wfdb_files: dict[str, bytes], damage: object, words: str
) -> None:
    before = stored(cloud)
    status, text = upload(cloud, damage(wfdb_files))  # type: ignore[operator]
    assert status == 422 and words in text, text
    assert stored(cloud) == before, "nothing half-stored"


def test_mat_without_val_is_refused(cloud: CloudApp, cinc_files: dict[str, bytes]) -> None:
    before = stored(cloud)
    status, text = upload(cloud, _wrong_mat_variable(cinc_files))
    assert status == 422 and "no variable 'val'" in text and "data" in text, text
    assert stored(cloud) == before


CSV_DAMAGE = [
    (b"0.1\n0.2\nabc\n", {"fs": "250"}, "line 3, column 1: 'abc' is not a number"),
    (b"0.1,0.2\n0.3\n", {"fs": "250"}, "line 2 has 1 columns, expected 2"),
    (b"0.1\n0.2\n", {}, "give the sampling rate"),
    (b"0.1\n0.2\n", {"fs": "0"}, "not in (0"),
    (b"0.1\n0.2\n", {"fs": "-250"}, "not in (0"),
    (b"0.1\n0.2\n", {"fs": "nan"}, "not in (0"),
    (b"", {"fs": "250"}, "empty file"),
    (b"\n\n", {"fs": "250"}, "no samples"),
    (b"I,II\n", {"fs": "250"}, "no samples"),
    (b"0.1\nnan\n", {"fs": "250"}, "not finite"),
    (b"0.1\n0.2\n", {"fs": "250", "units": "furlongs"}, "units"),
]


@pytest.mark.parametrize("content,form,words", CSV_DAMAGE, ids=[w for _, _, w in CSV_DAMAGE])
def test_malformed_csv_is_refused(cloud: CloudApp, content: bytes, form: dict[str, str], words: str) -> None:
    before = stored(cloud)
    status, text = upload(cloud, {"x.csv": content}, **form)
    assert status == 422 and words in text, text
    assert stored(cloud) == before


def test_upload_for_a_patient_of_another_doctor_is_hidden(cloud: CloudApp) -> None:
    status, _ = upload(cloud, {"x.csv": b"0.1\n"}, fs="250", patient_id="999")
    assert status == 404
