"""Pure pieces of the kubelet: container state records, the pod status they add up to, back-off, images."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from falcotui.sim.controllers.events import rfc3339


@dataclass(slots=True)
class ContainerState:
    """What the kubelet knows about one container of a pod (across its restarts)."""

    name: str
    image: str
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"  # waiting reason
    message: str = ""
    started_at: float | None = None  # wall clock of the current instance's start
    ready: bool = False
    restart_count: int = 0
    last_terminated: dict | None = None
    terminated: dict | None = None  # current state when state == "terminated"
    container_id: str = ""
    image_id: str = ""
    ever_started: bool = False

    def status(self) -> dict:
        if self.state == "running":
            state: dict = {"running": {"startedAt": rfc3339(self.started_at)}}
        elif self.state == "terminated" and self.terminated:
            state = {"terminated": dict(self.terminated)}
        else:
            waiting: dict = {"reason": self.reason}
            if self.message:
                waiting["message"] = self.message
            state = {"waiting": waiting}
        out: dict = {
            "name": self.name,
            "image": self.image,
            "imageID": self.image_id,
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.state == "running",
            "state": state,
            "lastState": {"terminated": dict(self.last_terminated)} if self.last_terminated else {},
        }
        if self.container_id:
            out["containerID"] = self.container_id
        return out


@dataclass(slots=True)
class Conditions:
    """Pod conditions with transition times that only move when the status flips."""

    times: dict[str, tuple[str, str]] = field(default_factory=dict)  # type -> (status, lastTransitionTime)

    def set(self, type_: str, ok: bool, now: float) -> None:
        status = "True" if ok else "False"
        cur = self.times.get(type_)
        if cur is None or cur[0] != status:
            self.times[type_] = (status, rfc3339(now))

    def render(self, reasons: Mapping[str, tuple[str, str]] | None = None) -> list[dict]:
        """The conditions in kubelet order; `reasons` gives (reason, message) for types that are False."""
        out = []
        for type_ in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"):
            cur = self.times.get(type_)
            if cur is None:
                continue
            cond = {"type": type_, "status": cur[0], "lastProbeTime": None, "lastTransitionTime": cur[1]}
            if cur[0] == "False" and reasons and type_ in reasons:
                cond["reason"], cond["message"] = reasons[type_]
            out.append(cond)
        return out


def qos_class(pod_spec: Mapping) -> str:
    """Guaranteed when every container's cpu and memory limits equal its requests; BestEffort with none."""
    containers = list(pod_spec.get("containers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req = dict(res.get("requests") or {})
        lim = res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            limit = lim.get(r)
            request = req.get(r, limit)
            if limit is None or str(request) != str(limit):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def pod_status(
    containers: list[ContainerState],
    conditions: Conditions,
    *,
    host_ip: str,
    pod_ip: str | None,
    start_time: float,
    qos: str,
    now: float,
) -> dict:
    """The `status` of a pod whose containers restart always (the DaemonSet case)."""
    running_all = bool(containers) and all(c.ever_started for c in containers)
    sandbox = pod_ip is not None
    all_ready = bool(containers) and all(c.ready for c in containers)
    conditions.set("PodReadyToStartContainers", sandbox, now)
    conditions.set("Initialized", True, now)
    conditions.set("Ready", all_ready, now)
    conditions.set("ContainersReady", all_ready, now)
    conditions.set("PodScheduled", True, now)
    unready = " ".join(c.name for c in containers if not c.ready)
    not_ready = ("ContainersNotReady", f"containers with unready status: [{unready}]")
    status: dict = {
        "phase": "Running" if running_all else "Pending",
        "conditions": conditions.render({"Ready": not_ready, "ContainersReady": not_ready}),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": rfc3339(start_time),
        "containerStatuses": [c.status() for c in containers],
        "qosClass": qos,
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    return status


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """Seconds to wait before the next try after `failures` consecutive failures (base, 2·base, ... cap)."""
    if failures <= 0:
        return 0.0
    return min(cap, base * (2 ** min(failures - 1, 30)))


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest); the tag defaults to `latest` when there is neither tag nor digest."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    last = image.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        image, tag = image.rsplit(":", 1)
    if tag is None and digest is None:
        tag = "latest"
    return image, tag, digest


def canonical_repository(repo: str) -> str:
    """`falco` → `docker.io/library/falco`, `falcosecurity/falco` → `docker.io/falcosecurity/falco`."""
    first = repo.split("/", 1)[0]
    if "/" not in repo:
        return f"docker.io/library/{repo}"
    if "." in first or ":" in first or first == "localhost":
        return repo
    return f"docker.io/{repo}"


def full_reference(image: str) -> str:
    repo, tag, digest = split_image(image)
    ref = canonical_repository(repo)
    if tag:
        ref += f":{tag}"
    if digest:
        ref += f"@{digest}"
    return ref


def image_exists(registry: Mapping[str, set[str]], image: str) -> bool:
    """A tag exists if its repository lists it; repositories the registry does not list always pull."""
    repo, tag, digest = split_image(image)
    canon = canonical_repository(repo)
    known = [tags for name, tags in registry.items() if canonical_repository(name) == canon]
    if not known:
        return True
    if digest and tag is None:
        return True
    return any(tag in tags for tags in known)


def image_id(image: str) -> str:
    repo, _, digest = split_image(image)
    if digest:
        return f"{canonical_repository(repo)}@{digest}"
    return f"{canonical_repository(repo)}@sha256:{hashlib.sha256(full_reference(image).encode()).hexdigest()}"


def pull_error(image: str) -> str:
    ref = full_reference(image)
    return (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
        f'failed to resolve reference "{ref}": {ref}: not found'
    )


def _manifest_url(image: str) -> str:
    """Where containerd asks for the manifest: Docker Hub's API host is registry-1.docker.io."""
    canon = canonical_repository(split_image(image)[0])
    host, path = canon.split("/", 1)
    if host == "docker.io":
        host = "registry-1.docker.io"
    digest = image_id(image).split("@", 1)[1]
    return f"https://{host}/v2/{path}/manifests/{digest}"


def pull_failure(
    registry: Mapping[str, set[str]], image: str, *, node_os: str = "linux", rate_limited: bool = False
) -> str | None:
    """Why pulling `image` on a node fails, as containerd's CRI answers the kubelet; None if it pulls.

    - Rate limit: the registry answers 429 with `toomanyrequests` (Docker Hub: "You have reached your pull
      rate limit..."); containerd reports the status line and the server message, code Unknown, as in
      kubelet events seen on real clusters ("failed to copy: httpReadSeeker: failed open: unexpected status
      code https://registry-1.docker.io/v2/.../manifests/sha256:...: 429 Too Many Requests - Server
      message: toomanyrequests: ..."; docs.docker.com/docker-hub/usage/).
    - Unknown tag: NotFound for the reference (`pull_error`).
    - A Windows node: the simulated registry holds Linux images only (falcosecurity/falco publishes
      linux/amd64 and linux/arm64), and containerd finds no manifest for windows/amd64 in the index:
      "no match for platform in manifest: not found", code NotFound.
    """
    ref = full_reference(image)
    if rate_limited:
        return (
            f'rpc error: code = Unknown desc = failed to pull and unpack image "{ref}": failed to copy: '
            f"httpReadSeeker: failed open: unexpected status code {_manifest_url(image)}: 429 Too Many "
            "Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may "
            "increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"
        )
    if not image_exists(registry, image):
        return pull_error(image)
    if node_os != "linux":
        return (
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
            "no match for platform in manifest: not found"
        )
    return None


def go_duration(seconds: float) -> str:
    """Render like Go's time.Duration: 200ms, 10s, 2m40s, 5m0s."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds, 3)
    minutes, secs = divmod(whole, 60)
    text = f"{secs:g}s"
    return f"{int(minutes)}m{text}" if minutes else text
