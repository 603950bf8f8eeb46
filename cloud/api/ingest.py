"""Gateway ingestion of event batches; the batch's decoding is in cloud.ingest_schema.decode_batch."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from cloud.api.deps import GatewayDep, ServicesDep
from cloud.ingest import IngestRefused, store_batch
from cloud.ingest_schema import BatchDecodeError, BatchIn, decode_batch

router = APIRouter(prefix="/ingest", tags=["ingest"])
MAX_BATCH_BYTES = 64 * 1024 * 1024


def body_schemas() -> dict[str, Any]:
    """BatchIn and the models it uses, for the OpenAPI components (the route reads its body itself)."""
    schema = BatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "BatchIn": schema}


_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}},
        "application/octet-stream": {
            "schema": {"type": "string", "format": "binary", "description": "wire frames; see cloud/wire_batch.py"}
        },
    },
}


@router.post(
    "/batches",
    openapi_extra={"requestBody": _BODY},
    responses={
        200: {"description": "stored, or stored before (duplicate_batch): the same answer either way"},
        403: {"description": "a patch in the batch is not assigned to this gateway"},
        409: {"description": "the batch id was used before for other contents"},
        413: {"description": "body too large"},
        415: {"description": "unsupported content type"},
        422: {"description": "not a valid batch; the message says where"},
    },
)
async def ingest_batch(request: Request, gateway: GatewayDep, services: ServicesDep) -> dict[str, Any]:
    """Store a batch of events with their snippets. Idempotent: sending a batch again changes nothing."""
    body = await request.body()
    if len(body) > MAX_BATCH_BYTES:
        raise HTTPException(413, f"batch larger than {MAX_BATCH_BYTES} bytes")
    assert gateway.id is not None
    try:
        stored = await run_in_threadpool(_decode_and_store, services, gateway.id, request.headers.get("content-type", ""), body)
    except (BatchDecodeError, IngestRefused) as exc:
        raise HTTPException(exc.status, str(exc)) from None
    services.queue.enqueue(stored.analysis_ids)
    return stored.response


def _decode_and_store(services: ServicesDep, gateway_id: int, content_type: str, body: bytes) -> Any:
    batch = decode_batch(content_type, body)
    return store_batch(
        services.engine, gateway_id, batch, hashlib.sha256(body).hexdigest(), services.settings.job_lease_s
    )
