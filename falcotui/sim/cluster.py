"""`SimCluster`: the store, the API server and the controllers on one asyncio loop.

Use it synchronously (`start()` runs the loop in a background thread; `with SimCluster(cfg) as c:`) or
inside an existing loop (`await c.astart()`, e.g. from a Textual app). Fault hooks for tests:
`close_watches()`, `expire_history()`, `restart_api_server()`, `set_node_ready()`, `add_node()`,
`remove_node()`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from falcotui.falco.certs import generate_grpc_certs
from falcotui.sim.api.admission import admit
from falcotui.sim.api.auth import Policy
from falcotui.sim.api.kubeconfig import CONTEXT, write_kubeconfig
from falcotui.sim.api.rbac import RbacPolicy, seed_bootstrap_policy
from falcotui.sim.api.server import ApiServer, server_ssl_context
from falcotui.sim.api.store import Store
from falcotui.sim.config import NodeSpec, SimConfig
from falcotui.sim.nodes.runtime import ContainerRuntime


class SimClusterError(RuntimeError):
    """The simulated cluster could not start or was used in the wrong state."""


class SimCluster:
    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        runtime_for_image: Callable[[str], ContainerRuntime | None] | None = None,
        policy: Policy | None = None,
        bookmark_interval: float = 5.0,
        with_controllers: bool = True,
        on_start: list[Callable[[SimCluster], Any]] | None = None,
    ) -> None:
        self.config = config or SimConfig()
        self.store = Store(history=self.config.watch_history, seed=self.config.seed)
        self.store.admission = lambda resource, obj: admit(
            self.config.admission, resource, obj, lambda ns: self.store.peek_list("resourcequotas", ns)
        )
        self.token = self.config.token
        if self.config.tls and self.token is None:
            self.token = secrets.token_urlsafe(24)
        self.policy = policy or Policy.allow_all()
        self.server: ApiServer | None = None
        self.controllers: Any = None
        self.ca_pem: bytes | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.kubeconfig_path: Path | None = None
        self._runtime_for_image = runtime_for_image
        self._bookmark_interval = bookmark_interval
        self._with_controllers = with_controllers
        self._on_start = list(on_start or [])  # run on the loop after start (register pod subresources)
        self._workdir: str | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    # ---- properties --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self.server is None:
            raise SimClusterError("the simulated cluster is not running")
        return self.server.url

    # ---- async lifecycle ---------------------------------------------------------------------------
    async def astart(self) -> SimCluster:
        if self.server is not None:
            raise SimClusterError("the simulated cluster is already running")
        self.loop = asyncio.get_running_loop()
        self._workdir = tempfile.mkdtemp(prefix="falcotui-sim-")
        ssl_context = None
        if self.config.tls:
            certs = generate_grpc_certs(server_names=("localhost", "127.0.0.1", self.config.host))
            self.ca_pem = certs.ca_crt
            ssl_context = server_ssl_context(certs.server_crt, certs.server_key, self._workdir)
        self.server = ApiServer(
            self.store,
            host=self.config.host,
            port=self.config.port,
            ssl_context=ssl_context,
            token=self.token,
            policy=self.policy,
            bookmark_interval=self._bookmark_interval,
            version=self.config.server_version,
        )
        for ns in ("default", "kube-system"):
            if self.store.peek("namespaces", "", ns) is None:
                self.store.create("namespaces", {"metadata": {"name": ns}})
        await self.server.start()
        if self._with_controllers:
            from falcotui.sim.controllers.start import start_controllers

            self.controllers = await start_controllers(self.store, self.config, self._runtime_for_image)
            self._register_pod_subresources()
        for hook in self._on_start:
            result = hook(self)
            if inspect.isawaitable(result):
                await result
        self.kubeconfig_path = self.write_kubeconfig(Path(self._workdir) / "kubeconfig")
        return self

    def _register_pod_subresources(self) -> None:
        """Serve pods/log from the kubelets' container logs (the part-2 modules add exec/portforward)."""
        assert self.server is not None
        try:
            from falcotui.sim.nodes.pod_logs import make_log_handler
        except ImportError:
            return
        self.server.add_pod_subresource("log", make_log_handler(self.store, self.controllers))

    async def astop(self) -> None:
        if self.controllers is not None:
            await self.controllers.stop()
            self.controllers = None
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    # ---- sync lifecycle (own loop in a background thread) ------------------------------------------
    def start(self) -> SimCluster:
        if self._thread is not None:
            raise SimClusterError("the simulated cluster is already running")
        ready: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._stopped = asyncio.Event()

            async def main() -> None:
                try:
                    await self.astart()
                except BaseException as exc:
                    ready.set_exception(exc)
                    await self.astop()
                    return
                ready.set_result(None)
                assert self._stopped is not None
                await self._stopped.wait()
                await self.astop()

            try:
                loop.run_until_complete(main())
            finally:
                leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in leftovers:
                    task.cancel()
                if leftovers:
                    loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="falcotui-sim", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout=30)
        except BaseException:
            self._thread.join(timeout=5)
            self._thread = None
            raise
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self.loop is not None and self._stopped is not None:
            self.loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=15)
        self._thread = None

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> SimCluster:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 30) -> Any:
        """Run `fn(*args)` on the cluster's loop and return its result (awaited if it is a coroutine)."""
        if self.loop is None:
            raise SimClusterError("the simulated cluster is not running")
        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            result = fn(*args)
            if inspect.isawaitable(result):
                raise SimClusterError("call() of a coroutine from the cluster's own loop: await it instead")
            return result

        async def run() -> Any:
            result = fn(*args)
            return await result if inspect.isawaitable(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def write_kubeconfig(
        self, path: str | Path, namespace: str = "falco", *, user: str | None = None
    ) -> Path:
        """A kubeconfig for the cluster's admin, or for a user added with `add_user`."""
        token = self.token
        if user is not None:
            token = next((t for t, p in self._users().items() if p.user == user), None)
            if token is None:
                raise SimClusterError(f"no simulated user {user!r}: add_user() first")
        return write_kubeconfig(
            path, self.url, ca_pem=self.ca_pem, token=token, namespace=namespace, user_name=user or CONTEXT
        )

    def _users(self) -> dict[str, RbacPolicy]:
        if self.server is None:
            raise SimClusterError("the simulated cluster is not running")
        return self.server.users

    def add_user(self, name: str, groups: tuple[str, ...] = ()) -> RbacPolicy:
        """A user authorized by RBAC alone (the Roles and bindings stored in the cluster), authenticated by
        a bearer token of its own. Returns its authorizer, whose `decisions` journal every request."""

        def add() -> RbacPolicy:
            seed_bootstrap_policy(self.store)
            policy = RbacPolicy(self.store, name, tuple(groups))
            self._users()[secrets.token_urlsafe(24)] = policy
            return policy

        return self.call(add)

    # ---- fault hooks -------------------------------------------------------------------------------
    def close_watches(self) -> int:
        """End every open watch stream (clients see a clean end of stream and must re-watch)."""
        return self.call(lambda: self.server.close_watches() if self.server else 0)

    def expire_history(self) -> None:
        """Drop the watch history: resuming from any RV handed out so far gets 410 Expired."""
        self.call(self.store.expire_history)

    def restart_api_server(self) -> None:
        """Stop the API server (all connections drop) and start it again on the same port; store kept."""
        self.call(self.arestart_api_server)

    async def arestart_api_server(self) -> None:
        if self.server is None:
            raise SimClusterError("the simulated cluster is not running")
        await self.server.restart()

    def _controllers_or_fail(self) -> Any:
        if self.controllers is None:
            raise SimClusterError("the simulated cluster runs without controllers")
        return self.controllers

    def set_node_ready(self, name: str, ready: bool) -> None:
        self.call(lambda: self._controllers_or_fail().set_node_ready(name, ready))

    def add_node(self, spec: NodeSpec) -> dict:
        return self.call(lambda: self._controllers_or_fail().add_node(spec))

    def remove_node(self, name: str) -> None:
        self.call(lambda: self._controllers_or_fail().remove_node(name))
