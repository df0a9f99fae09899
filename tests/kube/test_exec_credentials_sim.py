"""Exec credential plugins against the simulator's expiring tokens: refresh on expiry and on 401, streams
(watch, logs, port-forward) that resume with the fresh token losing and repeating nothing, and a failing
plugin that stops requests instead of letting them go out unauthenticated."""

from __future__ import annotations

import asyncio
import json
import socketserver
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from falcotui.kube.apply import Applier
from falcotui.kube.client import KubeClients, Timeouts, load_clients
from falcotui.kube.credentials import CredentialError
from falcotui.kube.exec import read_file
from falcotui.kube.informer import Informer
from falcotui.kube.logs import PodLogFollowers
from falcotui.kube.portforward import PortForwarder
from falcotui.kube.resources import NODES
from falcotui.kube.rollout import wait_rollout
from falcotui.sim.api.tokens import TokenAuthority, expiry_of
from falcotui.sim.cluster import SimCluster
from falcotui.sim.nodes.portforward import make_portforward_handler

from .test_logs_sim import Collector, server_log


def exec_kubeconfig(
    path: Path, cluster: SimCluster, secret: str, *plugin_args: str, mode: str = "Never"
) -> Path:
    """A kubeconfig whose user runs the simulator's exec plugin (falcotui.sim.exec_plugin)."""
    doc = yaml.safe_load(cluster.write_kubeconfig(path).read_text())
    doc["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": ["-m", "falcotui.sim.exec_plugin", *plugin_args],
            "env": [{"name": "SIM_TOKEN_SECRET", "value": secret}],
            "interactiveMode": mode,
            "installHint": "it ships with falcotui's simulator",
        }
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def runs(log: Path) -> list[dict]:
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


def with_tokens(cluster: SimCluster) -> TokenAuthority:
    """Make the cluster accept only unexpired tokens signed with a fresh secret (and no static token)."""
    authority = TokenAuthority()
    cluster.server.token = None
    cluster.server.tokens = authority
    return authority


@pytest.mark.parametrize("claim", ["true-expiry", "no-expiry"])
async def test_tokens_expire_mid_stream_and_streams_resume_with_fresh_ones(
    make_falco_sim, manifests, eventually, tmp_path, claim
):
    """`true-expiry`: the plugin says when its token expires, the client refreshes before using it again.
    `no-expiry`: the plugin says nothing, so the client meets the server's 401 and refreshes then."""
    cluster = make_falco_sim(scenario="flaky", per_minute=1800, cut_every=0.3, nodes=2)
    authority = with_tokens(cluster)
    log = tmp_path / "plugin.log"
    lifetime = ["--lifetime", "2"] + (["--no-expiry"] if claim == "no-expiry" else [])
    cfg = exec_kubeconfig(tmp_path / "kc", cluster, authority.secret, *lifetime, "--log", str(log))
    kube = load_clients(cfg, environ={}, timeouts=Timeouts(connect=2, read=10))
    try:
        Applier(kube).apply(manifests)
        got = Collector()
        followers = PodLogFollowers(kube, got, tail_lines=None)
        nodes: asyncio.Queue = asyncio.Queue()
        informer = Informer(kube, NODES, nodes, watch_timeout=1)  # watches end every second: re-opened
        await followers.start()
        informer.start()
        try:
            await eventually(lambda: len(followers.followed_pods()) == 2, "a follower per Falco pod")
            await informer.wait_synced(30)
            first_runs = len(runs(log))
            await eventually(lambda: len(runs(log)) >= first_runs + 2, "two refreshes", timeout=30)
            cluster.restart_api_server()  # every stream drops; the tokens they were opened with are stale
            await eventually(
                lambda: all(f.streams >= 4 for f in followers.followers.values()),
                "each pod's stream was cut and resumed several times",
                timeout=40,
            )
            watches = informer.stats.watches
            await eventually(lambda: informer.stats.watches >= watches + 2, "the node watch re-opened")
        finally:
            await followers.aclose()
            await informer.aclose()
        for pod in {f.pod for f in followers.followers.values()}:
            mine = got.of(pod)
            full = server_log(kube, pod)
            assert len(mine) > 40
            assert mine == full[: len(mine)], f"{pod}: duplicates or gaps against the server's log"
        assert authority.accepted > 0
        if claim == "no-expiry":
            assert authority.expired > 0, "the client met the server's 401 and refreshed"
        assert all(not r["interactive"] and not r["stdin_tty"] for r in runs(log))
    finally:
        kube.close()


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


async def test_exec_and_port_forward_reconnect_with_a_fresh_token_after_401(
    make_falco_sim, manifests, tmp_path, eventually
):
    echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    echo.daemon_threads = True
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    cluster = make_falco_sim(nodes=1)
    authority = with_tokens(cluster)
    cluster.server.add_pod_subresource(
        "portforward", make_portforward_handler(cluster.store, lambda ns, pod, port: echo.server_address[:2])
    )
    log = tmp_path / "plugin.log"
    cfg = exec_kubeconfig(tmp_path / "kc", cluster, authority.secret, "--lifetime", "1.5", "--no-expiry",
                          "--log", str(log))  # fmt: skip
    kube = load_clients(cfg, environ={}, timeouts=Timeouts(connect=2, read=10))
    try:
        Applier(kube).apply(manifests)
        pod = (await wait_rollout(kube, "falco", "falco", timeout=30)).nodes[0].pod
        async with PortForwarder(kube, "falco", pod, 5060) as pf:
            for _ in range(2):
                before = authority.expired
                await eventually(lambda: _expired(authority, kube), "the cached token expired server-side")
                reader, writer = await asyncio.open_connection(*pf.address)
                writer.write(b"ping")
                assert await asyncio.wait_for(reader.readexactly(4), 10) == b"ping"
                writer.close()
                assert authority.expired > before, "the first handshake met a 401"
            assert not pf.errors
        await eventually(lambda: _expired(authority, kube), "the cached token expired server-side")
        text = await asyncio.to_thread(read_file, kube, "falco", pod, "/etc/falco/falco.yaml")
        assert "rules_files" in text
    finally:
        kube.close()
        echo.shutdown()
        echo.server_close()


def _expired(authority: TokenAuthority, kube: KubeClients) -> bool:
    creds = kube.credentials
    assert creds is not None
    token = creds.credential().token
    expiry = expiry_of(authority.secret, token)
    return expiry is not None and time.time() > expiry


async def test_a_failing_plugin_is_an_error_and_nothing_goes_out_unauthenticated(make_sim, tmp_path):
    cluster = make_sim(nodes=1)
    authority = with_tokens(cluster)
    flag = tmp_path / "broken"
    failing = ["--fail", "3", "--stderr", "token service down \x1b[2J(no route)"]
    cfg = exec_kubeconfig(tmp_path / "kc", cluster, authority.secret, "--lifetime", "1", *failing)
    with pytest.raises(CredentialError) as failed:
        load_clients(cfg, environ={})
    message = str(failed.value)
    assert sys.executable in message and "exit status 3" in message
    assert "token service down" in message and "\x1b" not in message

    cfg = exec_kubeconfig(tmp_path / "kc2", cluster, authority.secret, "--lifetime", "1",
                          "--fail-if-exists", str(flag))  # fmt: skip
    kube = load_clients(cfg, environ={}, timeouts=Timeouts(connect=2, read=10))
    try:
        assert kube.request("GET", "/api/v1/nodes")["items"]
        flag.write_text("")
        creds = kube.credentials
        assert creds is not None
        while creds.expiry is not None and creds.clock() < creds.expiry:
            await asyncio.sleep(0.05)
        sent = cluster.server.request_count
        with pytest.raises(CredentialError, match="exit status 1"):
            kube.request("GET", "/api/v1/nodes")
        with pytest.raises(CredentialError):
            kube.call(kube.core.list_node)
        assert cluster.server.request_count == sent, "no request left without a credential"
    finally:
        kube.close()


def test_a_missing_plugin_names_itself_and_its_install_hint(make_sim, tmp_path):
    cluster = make_sim(nodes=1)
    cfg = exec_kubeconfig(tmp_path / "kc", cluster, "s")
    doc = yaml.safe_load(cfg.read_text())
    doc["users"][0]["user"]["exec"]["command"] = "gke-gcloud-auth-plugin-not-installed"
    cfg.write_text(yaml.safe_dump(doc))
    with pytest.raises(CredentialError, match=r"gke-gcloud-auth-plugin-not-installed.*not found.*simulator"):
        load_clients(cfg, environ={})
