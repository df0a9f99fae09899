"""The simulated API server: an aiohttp app routing Kubernetes REST paths to the verbs, over HTTP or TLS.

Routes: `/version`, `/healthz`, discovery (`/api`, `/apis`, group versions), `/openapi/v2|v3`, and the
resource paths `/api/v1/...` and `/apis/<group>/<version>/...` (namespaced and cluster-scoped, with
`status` subresources). Pod subresources such as `log`, `exec` and `portforward` are served by handlers
other modules register with `add_pod_subresource`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web

from falcotui.sim.api import discovery, openapi, verbs
from falcotui.sim.api.auth import POLICY, Policy, check_token
from falcotui.sim.api.errors import StoreError
from falcotui.sim.api.rbac import RbacPolicy
from falcotui.sim.api.resources import RESOURCES
from falcotui.sim.api.store import Store
from falcotui.sim.api.throttle import Throttle, long_running
from falcotui.sim.api.tokens import TokenAuthority
from falcotui.sim.api.verbs import Target, json_response
from falcotui.sim.api.watch import WatchHub

log = logging.getLogger(__name__)

#: handler(request, namespace, pod_name) for a pod subresource such as "log", "exec", "portforward"
PodSubresourceHandler = Callable[[web.Request, str, str], Awaitable[web.StreamResponse]]
_PUBLIC = frozenset({"/version", "/healthz", "/livez", "/readyz"})
_UPGRADE_CREATE = frozenset({"exec", "attach", "portforward"})


class ApiServer:
    def __init__(
        self,
        store: Store,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        token: str | None = None,
        policy: Policy | None = None,
        bookmark_interval: float = 5.0,
        version: str | None = None,
    ) -> None:
        self.store = store
        #: what /version answers, and the (major, minor) whose schema unknown-field checks use
        self.version = discovery.version_doc(version)
        self.kube_version = discovery.parse_version(self.version["gitVersion"])
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.token = token
        self.policy = policy or Policy.allow_all()
        #: bearer token -> the RBAC authorizer of a simulated user (see SimCluster.add_user)
        self.users: dict[str, RbacPolicy] = {}
        self.watches = WatchHub(bookmark_interval)
        self.pod_subresources: dict[str, PodSubresourceHandler] = {}
        self.request_count = 0
        self.tokens: TokenAuthority | None = None  # expiring tokens accepted besides `token`
        self.throttle: Throttle | None = None  # APF-like 429s past a concurrency limit
        self._runner: web.AppRunner | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def add_pod_subresource(self, name: str, handler: PodSubresourceHandler) -> None:
        """Serve `/api/v1/namespaces/{ns}/pods/{name}/<name>` (GET and POST, websockets included)."""
        self.pod_subresources[name] = handler

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        r = app.router
        r.add_get("/version", self._version)
        for p in ("/healthz", "/livez", "/readyz"):
            r.add_get(p, self._ok)
        r.add_get("/api", self._api)
        r.add_get("/apis", self._apis)
        r.add_get("/api/v1", self._group_version)
        r.add_get("/apis/{group}/{version}", self._group_version)
        r.add_get("/openapi/v2", self._openapi_v2)
        r.add_get("/openapi/v3", self._openapi_v3)
        r.add_get("/openapi/v3/{path:.+}", self._openapi_v3_gv)
        r.add_route("*", "/api/v1/{tail:.+}", self._resource)
        r.add_route("*", "/apis/{group}/{version}/{tail:.+}", self._resource)
        return app

    async def start(self) -> None:
        # The API server reads up to 1 MiB of request line and headers (kube-apiserver secure_serving.go
        # `MaxHeaderBytes: 1 << 20`, Go's http.DefaultMaxHeaderBytes): an exec's argv travels in the URL
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False,
                                     shutdown_timeout=0.5, max_line_size=1 << 20,
                                     max_field_size=1 << 20)  # fmt: skip
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context,
                           reuse_address=True)  # fmt: skip
        await site.start()
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.watches.close_all()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def restart(self) -> None:
        """Stop listening (ending every connection) and listen again on the same port."""
        await self.stop()
        await asyncio.sleep(0)
        await self.start()

    def close_watches(self) -> int:
        return self.watches.close_all()

    # ---- middleware --------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        self.request_count += 1
        try:
            request[POLICY] = self.policy
            if request.path not in _PUBLIC:
                user = self._user(request.headers.get("Authorization"))
                if user is not None:
                    request[POLICY] = user
                else:
                    check_token(request.headers.get("Authorization"), self.token, self.tokens)
            throttle = self.throttle
            if throttle is None or request.path in _PUBLIC or long_running(request):
                return await handler(request)
            if not throttle.try_admit():
                return throttle.reject()
            try:
                if throttle.hold:
                    await asyncio.sleep(throttle.hold)
                return await handler(request)
            finally:
                throttle.release()
        except StoreError as exc:
            return json_response(exc.status(), exc.code)
        except web.HTTPException as exc:
            if exc.status_code >= 400:
                err = StoreError(exc.status_code, exc.reason or "error")
                if exc.status_code == 404:
                    err = StoreError(404, "the server could not find the requested resource", "NotFound")
                elif exc.status_code == 405:
                    err = StoreError(405, "the server does not allow this method on the requested resource",
                                     "MethodNotAllowed")  # fmt: skip
                return json_response(err.status(), err.code)
            raise
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception as exc:  # an unexpected failure must still be a Status, never a traceback
            log.exception("internal error serving %s %s", request.method, request.path)
            err = StoreError(500, f"Internal error occurred: {type(exc).__name__}: {exc}", "InternalError")
            return json_response(err.status(), 500)

    def _user(self, header: str | None) -> RbacPolicy | None:
        if not self.users or not header or not header.startswith("Bearer "):
            return None
        sent = header[len("Bearer ") :].strip().encode()
        return next((p for t, p in self.users.items() if hmac.compare_digest(sent, t.encode())), None)

    # ---- fixed endpoints ---------------------------------------------------------------------------
    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _version(self, request: web.Request) -> web.Response:
        return json_response(self.version)

    async def _api(self, request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request):
            return json_response(discovery.aggregated(core=True), content_type=discovery.AGGREGATED_V2)
        return json_response(discovery.api_versions(f"{self.host}:{self.port}"))

    async def _apis(self, request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request):
            return json_response(discovery.aggregated(core=False), content_type=discovery.AGGREGATED_V2)
        return json_response(discovery.api_group_list())

    async def _group_version(self, request: web.Request) -> web.Response:
        group = request.match_info.get("group", "")
        version = request.match_info.get("version", "v1")
        body = discovery.resource_list(group, version)
        if body is None:
            raise StoreError(404, "the server could not find the requested resource", "NotFound")
        return json_response(body)

    async def _openapi_v2(self, request: web.Request) -> web.Response:
        accept = request.headers.get("Accept", "")
        if accept and "json" not in accept and "*/*" not in accept:
            # client-go asks for the protobuf encoding only; it treats "not acceptable" as "no v2 schema"
            # and falls back to OpenAPI v3 / its compiled-in types.
            raise StoreError(406, f"only application/json is served for /openapi/v2, not {accept}",
                             "NotAcceptable")  # fmt: skip
        return json_response(openapi.v2())

    async def _openapi_v3(self, request: web.Request) -> web.Response:
        return json_response(openapi.v3_root())

    async def _openapi_v3_gv(self, request: web.Request) -> web.Response:
        doc = openapi.v3_group_version(request.match_info["path"])
        if doc is None:
            raise StoreError(404, "the server could not find the requested resource", "NotFound")
        return json_response(doc)

    # ---- resources ---------------------------------------------------------------------------------
    def _target(self, request: web.Request) -> Target:
        group = request.match_info.get("group", "")
        version = request.match_info.get("version", "v1")
        parts = request.match_info["tail"].strip("/").split("/")
        if parts and parts[0] == "watch":  # the deprecated /watch/ path prefix
            parts = parts[1:]
            request["implied_watch"] = True
        namespace: str | None = None
        if len(parts) >= 3 and parts[0] == "namespaces" and parts[2] in RESOURCES:
            ri = RESOURCES[parts[2]]
            if not ri.namespaced:
                raise StoreError(404, "the server could not find the requested resource", "NotFound")
            namespace, rest = parts[1], parts[3:]
        else:
            ri_name, rest = parts[0], parts[1:]
            ri = RESOURCES.get(ri_name)  # type: ignore[assignment]
            if ri is None:
                raise StoreError(404, "the server could not find the requested resource", "NotFound")
            if ri.namespaced and rest:
                raise StoreError(404, "the server could not find the requested resource", "NotFound")
        if ri.group != group or ri.version != version:
            raise StoreError(404, "the server could not find the requested resource", "NotFound")
        if len(rest) > 2:
            raise StoreError(404, "the server could not find the requested resource", "NotFound")
        name = rest[0] if rest else None
        sub = rest[1] if len(rest) > 1 else None
        if sub is not None and sub not in ri.subresources:
            raise StoreError(404, "the server could not find the requested resource", "NotFound")
        return Target(ri, namespace, name, sub)

    async def _resource(self, request: web.Request) -> web.StreamResponse:
        t = self._target(request)
        m = request.method
        if t.sub and t.sub != "status":
            handler = self.pod_subresources.get(t.sub) if t.ri.plural == "pods" else None
            if handler is None:
                raise StoreError(
                    404, f"the server could not find the requested resource ({t.ri.plural}/{t.sub})"
                )
            verb = "get" if m == "GET" else "create"
            request[POLICY].check(verb, f"pods/{t.sub}", t.namespace, "", t.name)
            upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
            if verb == "get" and upgrade and t.sub in _UPGRADE_CREATE and self.kube_version >= (1, 35):
                # AuthorizePodWebsocketUpgradeCreatePermission, beta and on by default from 1.35 (Kubernetes
                # feature-gate docs): a websocket upgrade of exec/attach/portforward also needs `create`
                request[POLICY].check("create", f"pods/{t.sub}", t.namespace, "", t.name)
            return await handler(request, t.namespace or "", t.name or "")
        watch = request.get("implied_watch") or request.query.get("watch") in ("true", "1")
        if m == "GET":
            verb = "get" if t.name else ("watch" if watch else "list")
        else:
            verb = {
                "POST": "create",
                "PUT": "update",
                "PATCH": "patch",
                "DELETE": "delete" if t.name else "deletecollection",
            }.get(m, "")
        if not verb or verb not in t.ri.verbs or (verb == "create" and t.name):
            raise StoreError(405, "the server does not allow this method on the requested resource",
                             "MethodNotAllowed")  # fmt: skip
        if t.sub == "status" and verb not in ("get", "update", "patch"):
            raise StoreError(405, "the server does not allow this method on the requested resource",
                             "MethodNotAllowed")  # fmt: skip
        if verb in ("update", "patch") and not t.name:
            raise StoreError(405, "the server does not allow this method on the requested resource",
                             "MethodNotAllowed")  # fmt: skip
        resource = f"{t.ri.plural}/{t.sub}" if t.sub else t.ri.plural
        policy = request[POLICY]
        policy.check(verb, resource, t.namespace, t.ri.group, t.name)
        if verb == "patch" and not t.sub and _is_apply(request) and t.name is not None:
            # Server-side apply that creates its object is also authorized as `create`, with the name
            # (Kubernetes docs, Server-Side Apply: "RBAC and permissions"; kubernetes#64892 patchCreater).
            if self.store.peek(t.ri.plural, t.namespace or "", t.name) is None:
                policy.check("create", resource, t.namespace, t.ri.group, t.name)
        if t.ri.namespaced and t.namespace is None and verb not in ("list", "watch"):
            raise StoreError(404, "the server could not find the requested resource", "NotFound")
        if verb == "get":
            return await verbs.get(self, request, t)
        if verb in ("list", "watch"):
            if watch and "watch" not in request.query:
                request = request.clone(rel_url=request.rel_url.update_query({"watch": "true"}))
            return await verbs.list_or_watch(self, request, t)
        if verb == "create":
            return await verbs.create(self, request, t)
        if verb == "update":
            return await verbs.update(self, request, t)
        if verb == "patch":
            return await verbs.patch_(self, request, t)
        if verb == "delete":
            return await verbs.delete(self, request, t)
        return await verbs.delete_collection(self, request, t)


def _is_apply(request: web.Request) -> bool:
    return request.headers.get("Content-Type", "").split(";")[0].strip() == "application/apply-patch+yaml"


def server_ssl_context(cert_pem: bytes, key_pem: bytes, workdir: str) -> ssl.SSLContext:
    """A server-side TLS context from PEM bytes (written to files in `workdir`, as ssl requires)."""
    import os

    cert_path = os.path.join(workdir, "apiserver.crt")
    key_path = os.path.join(workdir, "apiserver.key")
    with open(cert_path, "wb") as f:
        f.write(cert_pem)
    with open(key_path, "wb") as f:
        f.write(key_pem)
    os.chmod(key_path, 0o600)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    with contextlib.suppress(AttributeError):
        ctx.set_alpn_protocols(["http/1.1"])
    return ctx
