"""Run a command in a pod over the exec websocket (`kubernetes.stream.stream`): read files, `falco -V`.

`kubernetes.stream.stream` temporarily swaps `call_api` on the ApiClient it is given, which would turn
concurrent requests of other threads into websocket calls; every exec therefore gets its own ApiClient
built on the shared configuration. The exit code comes from the status channel (3): `Success`, or
`Failure` with reason `NonZeroExitCode` and the code in `details.causes[ExitCode]`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL, STDERR_CHANNEL, STDOUT_CHANNEL

from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeError


class ExecError(KubeError):
    """The command could not be run in the pod (or, for `read_file`, exited non-zero)."""


@dataclass(frozen=True, slots=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str


_HANDSHAKE = re.compile(r"Handshake status (\d+)(?: ([^-]*))?")


def websocket_failure(reason: str) -> tuple[int | None, str]:
    """(HTTP code, message) from the websocket client's failed-handshake text, which embeds the headers
    and the server's Status body (`Handshake status 404 Not Found -+-+- {headers} -+-+- {Status}`)."""
    m = _HANDSHAKE.search(reason)
    if not m:
        return None, reason.strip()
    body = reason.rsplit("-+-+-", 1)[-1].strip()
    try:
        message = json.loads(body).get("message") or ""
    except (ValueError, AttributeError):
        message = ""
    return int(m.group(1)), message or f"HTTP {m.group(1)} {m.group(2) or ''}".strip()


def open_pod_websocket(
    clients: KubeClients,
    call: Callable[[Any], Any],
    failure: Callable[[str, int | None], KubeError],
) -> Any:
    """The websocket `call` opens with a CoreV1Api (`kubernetes.stream.stream` or `portforward` on one of its
    `connect_*` methods), on an ApiClient of its own: both swap `call_api` on the client they are given. A
    refused handshake raises `failure(message, HTTP code)` with the server's own message."""
    api_client = k8s.ApiClient(clients.api_client.configuration)
    try:
        return clients.open_websocket(lambda: call(k8s.CoreV1Api(api_client)))
    except k8s.ApiException as exc:
        code, message = websocket_failure(str(exc.reason or exc))
        raise failure(message, code) from exc
    finally:
        api_client.close()  # the websocket keeps its own connection


def parse_exec_status(text: str) -> int:
    """Exit code from the status channel's `Status` object; raises ExecError if the exec itself failed."""
    if not text.strip():
        raise ExecError("the exec stream ended without a status (connection lost?)")
    try:
        status = json.loads(text)
    except ValueError:
        try:
            status = yaml.safe_load(text)
        except yaml.YAMLError:
            status = None
    if not isinstance(status, dict):
        raise ExecError(f"unreadable exec status: {text[:200]!r}")
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message"))
            except (TypeError, ValueError):
                break
    raise ExecError(
        status.get("message") or "exec failed", code=status.get("code"), reason=status.get("reason", "")
    )


def exec_command(
    clients: KubeClients,
    namespace: str,
    pod: str,
    command: list[str],
    *,
    container: str | None = None,
    timeout: float = 30.0,
) -> ExecResult:
    """Run `command` (no stdin, no tty) and collect stdout, stderr and the exit code."""
    clients.check_websocket_proxy()
    kwargs: dict = {"command": command, "stdin": False, "stdout": True, "stderr": True, "tty": False}
    if container:
        kwargs["container"] = container
    ws = open_pod_websocket(
        clients,
        lambda api: stream(
            api.connect_get_namespaced_pod_exec, pod, namespace, _preload_content=False, **kwargs
        ),
        lambda message, code: ExecError(f"exec in {namespace}/{pod}: {message}", code=code),
    )
    out: list[str] = []
    err: list[str] = []
    status: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while ws.is_open():
            left = deadline - time.monotonic()
            if left <= 0:
                raise ExecError(f"exec in {namespace}/{pod}: {command[0]} did not finish within {timeout:g}s")
            ws.update(timeout=min(left, 1.0))
            out.append(ws.read_channel(STDOUT_CHANNEL))
            err.append(ws.read_channel(STDERR_CHANNEL))
            status.append(ws.read_channel(ERROR_CHANNEL))
        out.append(ws.read_channel(STDOUT_CHANNEL))
        err.append(ws.read_channel(STDERR_CHANNEL))
        status.append(ws.read_channel(ERROR_CHANNEL))
    except (OSError, Exception) as exc:
        if isinstance(exc, ExecError):
            raise
        raise ExecError(f"exec in {namespace}/{pod}: connection lost: {exc}") from exc
    finally:
        ws.close()
    return ExecResult(parse_exec_status("".join(status)), "".join(out), "".join(err))


def read_file(
    clients: KubeClients, namespace: str, pod: str, path: str, *, container: str | None = None
) -> str:
    """The content of `path` inside the container (via `cat`)."""
    result = exec_command(clients, namespace, pod, ["cat", path], container=container)
    if result.exit_code != 0:
        detail = result.stderr.strip() or f"exit code {result.exit_code}"
        raise ExecError(f"cannot read {path} in {namespace}/{pod}: {detail}", code=result.exit_code)
    return result.stdout


def falco_validate(
    clients: KubeClients,
    namespace: str,
    pod: str,
    files: list[str],
    *,
    container: str | None = None,
    json_output: bool = False,
    timeout: float = 60.0,
) -> ExecResult:
    """`falco -V <file> [-V <file>...]` in the pod (Falco's validate mode, one `-V` per file)."""
    if not files:
        raise ExecError("falco -V needs at least one rules file")
    command = ["falco"]
    for f in files:
        command += ["-V", f]
    if json_output:
        command += ["-o", "json_output=true"]
    return exec_command(clients, namespace, pod, command, container=container, timeout=timeout)
