"""The `pods/exec` subresource over the websocket channel protocol (stdout 1, stderr 2, status 3).

A simulated container runs the commands of `sim.container_commands` against its files (`cat`, `ls`,
`printf`, `mktemp`, `rm`, `mkdir`, `sh -c` with simple commands), and in a Falco container `falco
--version` and `falco -V FILE... [-o json_output=true]` (answered by the project's rules validator, with
the loader of that container's Falco version). A Falco container keeps what exec writes
(`FalcoContainer.fs`) where its mounts and `readOnlyRootFilesystem` allow; another container's writes last
one exec. The status channel carries Kubernetes' Status; a non-zero exit code travels in `details.causes`
with reason `ExitCode`, which `kubectl exec` turns into its own exit code.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from aiohttp import web

from falcotui.sim.api.channel_ws import frame, pod_container, upgrade
from falcotui.sim.api.errors import StoreError, not_found
from falcotui.sim.falco.process import FalcoContainer
from falcotui.sim.nodes.container_commands import run
from falcotui.sim.nodes.container_fs import ContainerFs

STDOUT, STDERR, STATUS = 1, 2, 3


def make_exec_handler(store, controllers) -> Callable[[web.Request, str, str], object]:
    """The handler for `ApiServer.add_pod_subresource("exec", ...)`; `controllers` finds container handles."""

    async def handler(request: web.Request, namespace: str, pod_name: str) -> web.StreamResponse:
        pod = store.peek("pods", namespace, pod_name)
        if pod is None:
            raise not_found("pods", pod_name)
        container = pod_container(pod, request.query.get("container"))
        command = request.query.getall("command", [])
        if not command:
            raise StoreError(400, "you must specify at least 1 command", "BadRequest")
        handle = controllers.container_handle(namespace, pod_name, container)
        if handle is None:
            raise StoreError(
                400, f'unable to upgrade connection: container not found ("{container}")', "BadRequest"
            )
        if isinstance(handle, FalcoContainer):
            fs, falco = handle.fs, handle.run_command
        else:
            files = handle.files if isinstance(getattr(handle, "files", None), dict) else {}
            snapshot = dict(files or controllers.pod_files(namespace, pod_name))
            fs, falco = ContainerFs(lambda: snapshot), None
        ws = await upgrade(request)
        code, out, err = run(command, fs, falco)
        if out:
            await ws.send_bytes(frame(STDOUT, out.encode()))
        if err:
            await ws.send_bytes(frame(STDERR, err.encode()))
        await ws.send_bytes(frame(STATUS, orjson.dumps(exit_status(command, code))))
        await ws.close()
        return ws

    return handler


def exit_status(command: list[str], code: int) -> dict:
    """The Status the kubelet sends on the status channel when the command ends."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            f"command terminated with non-zero exit code: error executing command [{' '.join(command)}], "
            f"exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }
