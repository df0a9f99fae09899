"""The REST verbs on resources: get, list, watch, create, update, patch, delete, deletecollection.

Each handler takes a parsed `Target` and the aiohttp request and returns a response; errors are raised as
`StoreError` and rendered as Status objects by the server's middleware.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
import yaml
from aiohttp import web

from falcotui.sim.api import apply, patch, protobuf, tables
from falcotui.sim.api.auth import POLICY, access_review, rules_review
from falcotui.sim.api.defaults import metadata_of
from falcotui.sim.api.errors import StoreError, bad_request, not_found
from falcotui.sim.api.resources import ResourceInfo
from falcotui.sim.api.schema import apply_path, drop_unknown_fields, unknown_fields
from falcotui.sim.api.selectors import combine, parse_field_selector, parse_label_selector
from falcotui.sim.api.store import copy_obj
from falcotui.sim.api.watch import serve_watch

if TYPE_CHECKING:
    from falcotui.sim.api.server import ApiServer

JSON = "application/json"


class _NoDatesLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: Kubernetes keeps `2026-01-01` a string."""


_NoDatesLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


@dataclass(slots=True)
class Target:
    ri: ResourceInfo
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str | None
    sub: str | None


def json_response(body: object, status: int = 200, content_type: str = JSON) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, headers={"Content-Type": content_type})


async def read_body(request: web.Request) -> object:
    raw = await request.read()
    if not raw:
        raise bad_request("the request body is empty")
    ctype = request.content_type or JSON
    if ctype == "application/vnd.kubernetes.protobuf":
        return protobuf.decode(raw)
    if "protobuf" in ctype:
        raise StoreError(415, f"the simulator does not accept {ctype}", "UnsupportedMediaType")
    if ctype.endswith("yaml"):
        try:
            return yaml.load(raw, Loader=_NoDatesLoader)
        except yaml.YAMLError as exc:
            raise bad_request(f"error decoding YAML: {exc}") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise bad_request(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def _check_fields(srv: ApiServer, request: web.Request, resource: str, obj: object) -> list[str]:
    """fieldValidation: Strict -> 400 on unknown fields; Warn (the default) -> warnings; Ignore -> nothing."""
    mode = request.query.get("fieldValidation", "Warn")
    if mode not in ("Strict", "Warn", "Ignore"):
        raise bad_request(
            f'fieldValidation: Unsupported value: "{mode}": supported values: "Ignore", "Strict", "Warn"'
        )
    if mode == "Ignore" or not isinstance(obj, dict):
        return []
    if mode == "Strict":
        unknown = [path for path, _, _ in unknown_fields(resource, obj, srv.kube_version)]
        if unknown:
            raise bad_request("strict decoding error: " + ", ".join(f'unknown field "{f}"' for f in unknown))
        return []
    return [f'unknown field "{f}"' for f in drop_unknown_fields(resource, obj, srv.kube_version)]


def _refuse_undeclared(srv: ApiServer, t: Target, name: str, body: dict) -> None:
    """Server-side apply converts the applied configuration to a typed value against the schema, which fails
    on any field the schema does not declare, whatever fieldValidation says ("For apply patch, server side
    schema validation already occurs and is not optional", KEP-2885). The error comes from
    structuredmerge.go ("failed to create typed patch object (<ns>/<name>; <group/version>, Kind=<kind>):
    <path>: field not declared in schema") as a plain error, which the API server answers with 500
    (kubernetes/kubernetes#122480, #139253)."""
    found = unknown_fields(t.ri.plural, body, srv.kube_version)
    if not found:
        return
    errors = [f"{apply_path(body, path)}: field not declared in schema" for path, _, _ in found]
    text = errors[0] if len(errors) == 1 else "errors:\n" + "\n".join(f"  {e}" for e in errors)
    api = t.ri.api_version if "/" in t.ri.api_version else "/" + t.ri.api_version
    where = f"{t.namespace or ''}/{name}; {api}, Kind={t.ri.kind}"
    raise StoreError(500, f"failed to create typed patch object ({where}): {text}", "InternalError")


def _warn(resp: web.StreamResponse, warnings: list[str]) -> web.StreamResponse:
    for w in warnings:
        resp.headers.add("Warning", '299 - "' + w.replace('"', '\\"') + '"')
    return resp


def _manager(request: web.Request, default_from_agent: bool = True) -> str:
    m = request.query.get("fieldManager")
    if m:
        return m
    if not default_from_agent:
        return ""
    agent = request.headers.get("User-Agent", "")
    return agent.split("/", 1)[0] if agent else "unknown"


def _object_for_url(t: Target, body: object) -> dict:
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    kind, api = body.get("kind"), body.get("apiVersion")
    if api and api != t.ri.api_version:
        expected = t.ri.api_version
        raise bad_request(
            f"the API version in the data ({api}) does not match the expected API version ({expected})"
        )
    if kind and kind != t.ri.kind:
        raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({t.ri.kind})")
    meta = metadata_of(body)
    if t.ri.namespaced:
        if meta.get("namespace") and meta["namespace"] != t.namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = t.namespace
    if t.name is not None:
        if meta.get("name") and meta["name"] != t.name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({t.name})"
            )
        meta["name"] = t.name
    return body


# ---- reads --------------------------------------------------------------------------------------------
def _out(request: web.Request, t: Target, obj: dict) -> web.Response:
    if tables.wants_table(request):
        return json_response(tables.table(t.ri.plural, [obj], None, request))
    return json_response(obj)


async def get(srv: ApiServer, request: web.Request, t: Target) -> web.StreamResponse:
    assert t.name is not None
    obj = srv.store.peek(t.ri.plural, t.namespace or "", t.name)
    if obj is None:
        raise not_found(t.ri.plural, t.name, t.ri.group)
    return _out(request, t, obj)


def _check_list_options(q) -> None:
    match = q.get("resourceVersionMatch")
    if not match:
        return
    problem = None
    if match not in ("NotOlderThan", "Exact"):
        problem = (
            f'resourceVersionMatch: Unsupported value: "{match}": supported values: "Exact", "NotOlderThan"'
        )
    elif not q.get("resourceVersion"):
        problem = (
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is "
        )
        problem += "provided"
    elif match == "Exact" and q.get("resourceVersion") == "0":
        problem = (
            'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion '
        )
        problem += '"0"'
    if problem:
        raise StoreError(422, f'ListOptions.meta.k8s.io "" is invalid: {problem}', "Invalid")


def _continue_token(rv: str, start: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"rv": rv, "start": start})).decode()


async def list_or_watch(srv: ApiServer, request: web.Request, t: Target) -> web.StreamResponse:
    q = request.query
    pred = combine(
        parse_label_selector(q.get("labelSelector")),
        parse_field_selector(q.get("fieldSelector"), t.ri.plural),
    )
    if q.get("watch") in ("true", "1"):
        transform = None
        if tables.wants_table(request):

            def transform(obj: dict) -> dict:
                return tables.table(t.ri.plural, [obj], None, request)

        return await serve_watch(request, srv.store, srv.watches, t.ri, t.namespace, pred, transform)
    _check_list_options(q)
    items = srv.store.peek_list(t.ri.plural, t.namespace)
    if pred is not None:
        items = [o for o in items if pred(o)]
    rv = str(srv.store.resource_version)
    start = 0
    if q.get("continue"):
        try:
            token = orjson.loads(base64.urlsafe_b64decode(q["continue"]))
            rv, start = str(token["rv"]), int(token["start"])
        except (ValueError, KeyError, TypeError):
            raise StoreError(400, "continue key is not valid: invalid token", "BadRequest") from None
    meta: dict = {"resourceVersion": rv}
    limit = int(q["limit"]) if q.get("limit", "").isdigit() and int(q["limit"]) > 0 else 0
    page = items[start : start + limit] if limit else items[start:]
    if limit and start + limit < len(items):
        meta["continue"] = _continue_token(rv, start + limit)
        meta["remainingItemCount"] = len(items) - start - limit
    if tables.wants_table(request):
        body = tables.table(t.ri.plural, page, meta, request)
        return json_response(body)
    head = orjson.dumps({"kind": f"{t.ri.kind}List", "apiVersion": t.ri.api_version, "metadata": meta})
    items_json = b",".join(srv.store.encoded(t.ri.plural, o) for o in page)
    body = head[:-1] + b',"items":[' + items_json + b"]}"
    return web.Response(body=body, headers={"Content-Type": JSON})


# ---- writes -------------------------------------------------------------------------------------------
async def create(srv: ApiServer, request: web.Request, t: Target) -> web.StreamResponse:
    body = await read_body(request)
    if t.ri.plural == "selfsubjectaccessreviews":
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        return json_response(access_review(request[POLICY], body), 201)
    if t.ri.plural == "selfsubjectrulesreviews":
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        return json_response(rules_review(request[POLICY], body), 201)
    obj = _object_for_url(t, body)
    warnings = _check_fields(srv, request, t.ri.plural, obj)
    apply.record_update(None, obj, _manager(request), t.ri.api_version, srv.store.clock)
    out = srv.store.create(t.ri.plural, obj, dry_run=_dry_run(request))
    return _warn(_out_status(request, t, out, 201), warnings)


def _out_status(request: web.Request, t: Target, obj: dict, status: int) -> web.Response:
    if tables.wants_table(request):
        return json_response(tables.table(t.ri.plural, [obj], None, request), status)
    return json_response(obj, status)


async def update(srv: ApiServer, request: web.Request, t: Target) -> web.StreamResponse:
    obj = _object_for_url(t, await read_body(request))
    warnings = _check_fields(srv, request, t.ri.plural, obj)
    old = srv.store.peek(t.ri.plural, t.namespace or "", t.name or "")
    if old is None:
        raise not_found(t.ri.plural, t.name or "", t.ri.group)
    if t.sub != "status":
        apply.record_update(old, obj, _manager(request), t.ri.api_version, srv.store.clock)
    out = srv.store.update(t.ri.plural, obj, subresource=t.sub, dry_run=_dry_run(request))
    return _warn(json_response(out), warnings)


async def patch_(srv: ApiServer, request: web.Request, t: Target) -> web.StreamResponse:
    ctype = request.content_type
    body = await read_body(request)
    dry = _dry_run(request)
    name = t.name or ""
    if ctype == "application/apply-patch+yaml":
        force = request.query.get("force") in ("true", "1")
        if not isinstance(body, dict):
            raise bad_request("the applied configuration must be an object")
        _refuse_undeclared(srv, t, name, body)
        warnings = _check_fields(srv, request, t.ri.plural, body)
        status, out = apply.server_side_apply(
            srv.store, t.ri, t.namespace or "", name, body, manager=_manager(request, False), force=force,
            dry_run=dry,
        )  # fmt: skip
        return _warn(json_response(out, status), warnings)
    old = srv.store.peek(t.ri.plural, t.namespace or "", name)
    if old is None:
        raise not_found(t.ri.plural, name, t.ri.group)
    if ctype == "application/merge-patch+json":
        new = patch.merge_patch(old, body)
    elif ctype == "application/strategic-merge-patch+json":
        new = patch.strategic_merge(old, body)
    elif ctype == "application/json-patch+json":
        new = patch.json_patch(old, body)
    else:
        raise StoreError(
            415,
            f"the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
            f"application/strategic-merge-patch+json (got {ctype})",
            "UnsupportedMediaType",
        )
    if not isinstance(new, dict):
        raise bad_request("the patch did not produce an object")
    new = copy_obj(new)
    warnings = _check_fields(srv, request, t.ri.plural, new)
    metadata_of(new)["name"] = name
    if t.sub != "status":
        apply.record_update(old, new, _manager(request), t.ri.api_version, srv.store.clock)
    out = srv.store.update(t.ri.plural, new, subresource=t.sub, dry_run=dry)
    return _warn(json_response(out), warnings)


async def delete(srv: ApiServer, request: web.Request, t: Target) -> web.StreamResponse:
    opts: dict = {}
    if request.can_read_body:
        raw = await request.read()
        if raw.strip():
            try:
                opts = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise bad_request("the DeleteOptions body is not valid JSON") from None
    if not isinstance(opts, dict) or not isinstance(opts.get("preconditions") or {}, dict):
        raise bad_request("the DeleteOptions body must be an object")
    pre = opts.get("preconditions") or {}
    policy = request.query.get("propagationPolicy") or opts.get("propagationPolicy") or "Background"
    if policy not in ("Background", "Foreground", "Orphan"):
        raise bad_request(f'propagationPolicy: Unsupported value: "{policy}"')
    dry = _dry_run(request) or "All" in (opts.get("dryRun") or [])
    name = t.name or ""
    gone = srv.store.delete(
        t.ri.plural, t.namespace or "", name, uid=pre.get("uid"), resource_version=pre.get("resourceVersion"),
        dry_run=dry, orphan=policy == "Orphan",
    )  # fmt: skip
    if gone is None:
        raise not_found(t.ri.plural, name, t.ri.group)
    if t.ri.plural in ("pods", "namespaces"):
        return json_response(gone)
    return json_response(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": name,
                "group": t.ri.group,
                "kind": t.ri.plural,
                "uid": gone["metadata"]["uid"],
            },
        }
    )


async def delete_collection(srv: ApiServer, request: web.Request, t: Target) -> web.StreamResponse:
    q = request.query
    pred = combine(
        parse_label_selector(q.get("labelSelector")),
        parse_field_selector(q.get("fieldSelector"), t.ri.plural),
    )
    dry = _dry_run(request)
    victims = [o for o in srv.store.peek_list(t.ri.plural, t.namespace) if pred is None or pred(o)]
    out = []
    for o in victims:
        gone = srv.store.delete(t.ri.plural, o["metadata"].get("namespace", ""), o["metadata"]["name"],
                                dry_run=dry)  # fmt: skip
        if gone is not None:
            out.append(gone)
    body = {"kind": f"{t.ri.kind}List", "apiVersion": t.ri.api_version, "metadata": {}, "items": out}
    return json_response(body)
