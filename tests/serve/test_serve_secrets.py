"""`falcotui serve` keeps the secrets it forwards off the tabs' command lines: a NATS --password, --user (a
token for the nats CLI) and an --alerts-from URL with `user:password@` reach each tab's falcotui in its
environment (readable by the same user only), never in /proc/PID/cmdline, which every local user can read
(`ps`); the tab takes them out of its environment before it starts anything."""

from __future__ import annotations

import json
import os
from pathlib import Path

import aiohttp
import pytest

from falcotui.cli import build_parser
from falcotui.cli.common import CliError
from falcotui.cli.serve_cmd import SECRET_ARGS_ENV, forwarded_argv, served_argv, split_secrets
from tests.serve.browser import wait_until
from tests.serve.conftest import command_line, descendants, start_serve

pytestmark = pytest.mark.timeout(300)

TOKEN = "supplied-token-0123456789-abcdefghij"
PASSWORD, USER, URL_PASSWORD = "pw-Secret-31f9", "alice-Secret-77c2", "url-Secret-9d04"
SECRETS = (PASSWORD, USER, URL_PASSWORD)


def test_the_secret_options_are_split_off_and_come_back_from_the_environment(monkeypatch) -> None:
    typed = ["serve", "--demo", "--alerts-from", f"nats://bob:{URL_PASSWORD}@n:4222", "--user", USER,
             "--password", PASSWORD, "--stream", "FALCO", "--read-only"]  # fmt: skip
    forwarded = forwarded_argv(build_parser().parse_args(typed))
    public, secret = split_secrets(forwarded)
    assert public == ["--read-only", "--demo", "--stream=FALCO"]
    url = f"--alerts-from=nats://bob:{URL_PASSWORD}@n:4222"
    assert secret == [url, f"--user={USER}", f"--password={PASSWORD}"]
    assert split_secrets(["--alerts-from=nats://n:4222"]) == (["--alerts-from=nats://n:4222"], [])

    # the tab: its command line plus what the environment brings, parsed as if all were typed
    monkeypatch.setenv(SECRET_ARGS_ENV, json.dumps(secret))
    args = build_parser().parse_args(served_argv(public))
    assert SECRET_ARGS_ENV not in os.environ  # nothing the tab starts inherits it
    assert (args.tui_nats_password, args.tui_nats_user) == (PASSWORD, USER)
    assert args.tui_alerts_from == f"nats://bob:{URL_PASSWORD}@n:4222" and args.tui_nats_stream == "FALCO"
    assert served_argv(["--demo"]) == ["--demo"]  # no entry: nothing added

    # the entry carries the secret options and nothing else (it is no way to slip in other options)
    for bad in ("not json", json.dumps("--password=x"), json.dumps(["--password=x", "--kubeconfig=/k"])):
        monkeypatch.setenv(SECRET_ARGS_ENV, bad)
        with pytest.raises(CliError):
            served_argv([])


async def test_a_tabs_command_line_holds_no_secret(tmp_path: Path) -> None:
    env = dict(os.environ, FALCOTUI_SERVE_TOKEN=TOKEN)
    served = start_serve(
        tmp_path, "--demo", "--nodes", "2", "--max-sessions", "1",
        "--alerts-from", f"nats://bob:{URL_PASSWORD}@127.0.0.1:9", "--user", USER, "--password", PASSWORD,
        env=env,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(served.base + "?token=" + TOKEN, allow_redirects=False) as response:
                jar = response.headers["Set-Cookie"].split(";")[0]
            ws, origin = served.base.replace("http://", "ws://") + "ws", served.base.rstrip("/")
            async with session.ws_connect(ws, headers={"Cookie": jar, "Origin": origin}):

                async def apps() -> dict[int, int]:
                    return served.apps()

                (pid,) = await wait_until(apps, bool, 60, "the tab's falcotui")

                async def environ() -> list[str]:  # once exec'd (right after the fork it is the server's)
                    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
                    return raw.split("\0")

                env_words = await wait_until(
                    environ, lambda e: any(w.startswith("TEXTUAL_DRIVER=") for w in e), 30, "the exec"
                )
                cmdline = command_line(pid)
                assert cmdline[1:3] == ["-m", "falcotui"] and "--demo" in cmdline
                assert "--alerts-from" not in " ".join(cmdline)
                assert not [s for s in SECRETS if s in "\0".join(cmdline)], cmdline
                # they did reach the tab, in its own environment (mode 0400: its user's eyes only)
                (entry,) = [w for w in env_words if w.startswith(f"{SECRET_ARGS_ENV}=")]
                assert all(s in entry for s in SECRETS)
                assert Path(f"/proc/{pid}/environ").stat().st_mode & 0o077 == 0

                # the tab parsed them and runs (a refused entry would have ended it with status 2), and the
                # engine worker it started inherited none of them
                async def worker() -> list[int]:
                    return [p for p in descendants(pid) if "falcotui.ops.engine_worker" in command_line(p)]

                (child,) = await wait_until(worker, bool, 90, "the tab's engine worker")
                assert served.apps().keys() == {pid}
                child_env = Path(f"/proc/{child}/environ").read_bytes().decode(errors="replace")
                assert SECRET_ARGS_ENV not in child_env
                assert not [s for s in SECRETS if s in child_env + "\0".join(command_line(child))]
        assert not [s for s in SECRETS if s in served.log()]
    finally:
        served.stop()
