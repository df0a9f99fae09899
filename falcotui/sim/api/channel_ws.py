"""The Kubernetes websocket channel protocol shared by `pods/exec` and `pods/portforward`.

Every binary message starts with a channel byte. `v5.channel.k8s.io` adds channel 255 (client closes one
of its channels). A request that is not a websocket upgrade gets Kubernetes' 400 "Upgrade request
required"; the server picks the first subprotocol the client offers that it speaks.
"""

from __future__ import annotations

from aiohttp import web

from falcotui.sim.api.errors import StoreError

V4 = "v4.channel.k8s.io"
V5 = "v5.channel.k8s.io"
PROTOCOLS = (V5, V4)
CLOSE_CHANNEL = 255


async def upgrade(request: web.Request) -> web.WebSocketResponse:
    """Accept the websocket with a channel subprotocol, or raise the Status Kubernetes answers with."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise StoreError(400, "Upgrade request required", "BadRequest")
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    if not any(p in PROTOCOLS for p in offered):
        raise StoreError(
            400,
            f"unable to upgrade: no supported subprotocol among {offered} "
            f"(supported: {', '.join(PROTOCOLS)})",
            "BadRequest",
        )
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, max_msg_size=16 * 1024 * 1024)
    await ws.prepare(request)
    return ws


def frame(channel: int, data: bytes) -> bytes:
    return bytes((channel,)) + data


def pod_container(pod: dict, requested: str | None) -> str:
    """The container an exec/attach targets: the named one, else the only one (or the default annotation)."""
    name = pod["metadata"]["name"]
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    if requested:
        if requested not in containers:
            raise StoreError(400, f"container {requested} is not valid for pod {name}", "BadRequest")
        return requested
    default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if default in containers:
        return default
    if len(containers) == 1:
        return containers[0]
    raise StoreError(
        400,
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]",
        "BadRequest",
    )
