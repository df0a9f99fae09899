"""Minimal OpenAPI documents: enough for kubectl to know the server validates fields itself.

kubectl 1.32 asks `/openapi/v3` which group versions exist, then reads each group version's document
and looks for the PATCH operation of the kind it is about to send (by `x-kubernetes-group-version-kind`)
with a `fieldValidation` query parameter; when it finds one it leaves validation to the server
(`fieldValidation=Strict`) instead of validating against the OpenAPI v2 schema. Strategic-merge patch
computation then falls back to kubectl's compiled-in types, which cover every kind served here.
"""

from __future__ import annotations

import hashlib
from functools import cache

import orjson

from falcotui.sim.api.resources import GROUPS, ResourceInfo

_QUERY_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _operation(ri: ResourceInfo, verb: str, patch: bool = False) -> dict:
    op: dict = {
        "operationId": f"{verb}{ri.kind}",
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": {"group": ri.group, "version": ri.version, "kind": ri.kind},
        "parameters": [{"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                       for p in _QUERY_PARAMS],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
            "$ref": f"#/components/schemas/{_schema_name(ri)}"}}}}},
    }  # fmt: skip
    if patch:
        op["requestBody"] = {
            "content": {
                ctype: {"schema": {"type": "object"}}
                for ctype in (
                    "application/apply-patch+yaml",
                    "application/json-patch+json",
                    "application/merge-patch+json",
                )
            },
            "required": True,
        }
    return op


def _schema_name(ri: ResourceInfo) -> str:
    group = ri.group.split(".")[0] if ri.group else "core"
    return f"io.k8s.api.{group}.{ri.version}.{ri.kind}"


@cache
def _group_version_doc(group: str, version: str) -> bytes:
    paths: dict = {}
    schemas: dict = {}
    base = "/" + _gv_path(group, version)
    for ri in GROUPS[group][version]:
        item = (
            f"{base}/namespaces/{{namespace}}/{ri.plural}/{{name}}"
            if ri.namespaced
            else (f"{base}/{ri.plural}/{{name}}")
        )
        if not ri.stored:
            paths[f"{base}/{ri.plural}"] = {"post": _operation(ri, "post")}
            continue
        paths[item] = {
            "get": _operation(ri, "get"),
            "put": _operation(ri, "put"),
            "patch": _operation(ri, "patch", patch=True),
            "delete": _operation(ri, "delete"),
        }
        schemas[_schema_name(ri)] = {
            "type": "object",
            "x-kubernetes-group-version-kind": [{"group": ri.group, "version": ri.version, "kind": ri.kind}],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
            },
        }
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.4"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    return orjson.dumps(doc)


def v3_root() -> dict:
    paths = {}
    for group, versions in GROUPS.items():
        for version in versions:
            digest = hashlib.sha512(_group_version_doc(group, version)).hexdigest().upper()[:128]
            path = _gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def v3_group_version(path: str) -> dict | None:
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api" and parts[1] in GROUPS.get("", {}):
        return orjson.loads(_group_version_doc("", parts[1]))
    if len(parts) == 3 and parts[0] == "apis" and parts[2] in GROUPS.get(parts[1], {}):
        return orjson.loads(_group_version_doc(parts[1], parts[2]))
    return None


def v2() -> dict:
    """A JSON OpenAPI v2 document listing the kinds (clients that need v2 ask for protobuf; see above)."""
    definitions = {}
    for versions in GROUPS.values():
        for rs in versions.values():
            for ri in rs:
                definitions[_schema_name(ri)] = {
                    "type": "object",
                    "x-kubernetes-group-version-kind": [{"group": ri.group, "version": ri.version,
                                                         "kind": ri.kind}],
                }  # fmt: skip
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.4"}, "paths": {},
            "definitions": definitions}  # fmt: skip
