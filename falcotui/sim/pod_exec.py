"""The `pods/exec` subresource over the websocket channel protocol (stdout 1, stderr 2, status 3).

A simulated container runs a handful of commands against its files: `cat PATH...`, `ls [DIR]`, and in a
Falco container `falco --version` and `falco -V FILE... [-o json_output=true]` (answered by the project's
rules validator). The status channel carries Kubernetes' Status; a non-zero exit code travels in
`details.causes` with reason `ExitCode`, which `kubectl exec` turns into its own exit code.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping

import orjson
from aiohttp import web

from falcotui.sim.channel_ws import frame, pod_container, upgrade
from falcotui.sim.errors import StoreError, not_found
from falcotui.sim.falco_config import list_dir
from falcotui.sim.falco_process import FalcoContainer

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
        files = handle.files if isinstance(getattr(handle, "files", None), dict) else {}
        if not files:
            files = controllers.pod_files(namespace, pod_name)
        ws = await upgrade(request)
        code, out, err = run_command(command, files, handle if isinstance(handle, FalcoContainer) else None)
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


def run_command(
    argv: list[str], files: Mapping[str, str], falco: FalcoContainer | None
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one command in the simulated container."""
    prog = posixpath.basename(argv[0])
    if prog == "cat":
        return _cat(argv[1:], files)
    if prog == "ls":
        return _ls(argv[1:], files)
    if prog == "falco" and falco is not None:
        return falco.run_command(argv)
    return 127, "", f"sh: {argv[0]}: not found\n"


def _cat(paths: list[str], files: Mapping[str, str]) -> tuple[int, str, str]:
    out, err, code = [], [], 0
    for path in paths:
        if path in files:
            out.append(files[path])
        elif list_dir(files, path):
            err.append(f"cat: {path}: Is a directory\n")
            code = 1
        else:
            err.append(f"cat: {path}: No such file or directory\n")
            code = 1
    return code, "".join(out), "".join(err)


def _ls(paths: list[str], files: Mapping[str, str]) -> tuple[int, str, str]:
    out, err, code = [], [], 0
    for path in paths or ["/"]:
        prefix = path.rstrip("/") + "/"
        if path in files and prefix not in files:
            out.append(f"{path}\n")
            continue
        # a key ending in "/" is a directory (falcotui.sim.falco_config.IMAGE_DIRS), listed even when empty
        names = sorted({p[len(prefix) :].split("/", 1)[0] for p in files if p.startswith(prefix)} - {""})
        if not names and prefix not in files:
            err.append(f"ls: {path}: No such file or directory\n")
            code = 1
        out.extend(f"{n}\n" for n in names)
    return code, "".join(out), "".join(err)
