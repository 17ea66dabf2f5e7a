"""The OTLP protobuf encoding, translated to the OTLP JSON shape :mod:`otlp_json` maps.

Protobuf is what most exporters send by default (the Collector, the Python and Java SDKs
with ``http/protobuf``, ``@opentelemetry/exporter-logs-otlp-proto``). The wire format is
parsed by the ``protobuf`` runtime against ``opentelemetry-proto``'s schema (C code, strict on
malformed input); the result is rewritten once into the JSON encoding's dict shape, so both
encodings share one mapping onto log records. The two differ only where the OTLP spec says:
trace and span ids, base64 in protobuf's JSON mapping, are hex in OTLP JSON.
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from obsview.backend.sources.otlp_json import RequestError

CONTENT_TYPE = "application/x-protobuf"


def export_from_protobuf(body: bytes) -> dict[str, Any]:
    """An ``ExportLogsServiceRequest`` in protobuf → the same request as OTLP JSON would
    decode to. Raises :class:`RequestError` when ``body`` is not one."""
    try:
        message = ExportLogsServiceRequest.FromString(body)
        export: dict[str, Any] = MessageToDict(message, use_integers_for_enums=True)
    except (DecodeError, RecursionError) as exc:  # the parser stops at 100 levels anyway
        raise RequestError(f"body is not a protobuf ExportLogsServiceRequest: {exc}") from None
    for resource_logs in export.get("resourceLogs", ()):
        for scope_logs in resource_logs.get("scopeLogs", ()):
            for record in scope_logs.get("logRecords", ()):
                for key in ("traceId", "spanId"):
                    if key in record:
                        record[key] = base64.b64decode(record[key]).hex()
    return export


def response_protobuf(rejected: int, reason: str) -> bytes:
    """The 200 answer to a protobuf request: an ``ExportLogsServiceResponse``, encoded alike."""
    response = ExportLogsServiceResponse()
    if rejected:
        response.partial_success.CopyFrom(
            ExportLogsPartialSuccess(rejected_log_records=rejected, error_message=reason)
        )
    return response.SerializeToString()
