"""The OpenAPI 3.1 document of the API, made from the operation table (served at
``/api/v1/openapi.json``): what a route takes is what the table says."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from torchflow.api.operations import OPERATIONS, PREFIX, Operation

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "problems": {"type": "array", "items": {"type": "string"}},
                   "param": {"type": "string"}}}}}
ERRORS = {"400": "a parameter is missing or malformed", "401": "the caller is not known",
          "403": "the rules refuse it", "404": "no such case, person, task or workflow",
          "409": "changed by someone else first; read again and retry",
          "413": "the request is too large", "422": "a value does not fit"}


@cache
def openapi() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS.values():
        if not op.local:
            path = PREFIX + op.path.replace(":int}", "}")
            paths.setdefault(path, {})[op.method.lower()] = _operation(op)
    try:
        release = version("torchflow")
    except PackageNotFoundError:
        release = "0"
    return {
        "openapi": "3.1.0",
        "info": {"title": "torchflow", "version": release,
                 "description": "Cooperation matters as cases, their follow-ups and notices. "
                 "Authenticate with a personal access token (Bearer), or come in through "
                 "the server's Unix socket; Torchflow-Act-As names the person an admin acts "
                 "for. A file an operation writes is the response body, its summary in the "
                 "Torchflow-Result header."},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"token": []}],
    }


def _operation(op: Operation) -> dict[str, Any]:
    in_path = set(op.path_params)
    doc: dict[str, Any] = {"operationId": op.name, "summary": op.summary,
                           "tags": [op.name.split(".")[0]]}
    parameters = [_parameter(p.name, "path", True, p.schema())
                  for p in op.params if p.name in in_path]
    body = [p for p in op.params if p.name not in in_path]
    if op.method in ("GET", "DELETE"):
        parameters += [_parameter(p.name, "query", p.required, p.schema()) for p in body]
    elif body:
        schema = {"type": "object", "properties": {p.name: p.schema() for p in body},
                  "required": [p.name for p in body if p.required],
                  "additionalProperties": False}
        media = "multipart/form-data" if op.uploads else "application/json"
        doc["requestBody"] = {"required": any(p.required for p in body),
                              "content": {media: {"schema": schema}}}
    if parameters:
        doc["parameters"] = parameters
    ok: dict[str, Any] = {"description": "the operation's result",
                          "content": {"application/json": {"schema": {}}}}
    if op.out is not None:
        ok["content"]["application/octet-stream"] = {
            "schema": {"type": "string", "format": "binary"}}
    doc["responses"] = {"200": ok, **{status: {
        "description": why, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}} for status, why in ERRORS.items()}}
    return doc


def _parameter(name: str, where: str, required: bool, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema}
