"""Log streams (kube.aio, aiohttp) use the kubeconfig's TLS and proxy settings as the sync client does: a
client certificate and the kubeconfig's CA (an mTLS front that checks both), insecure-skip-tls-verify,
no CA at all (the system's CAs do not know the simulator's: refused), an HTTPS_PROXY tunnel (HTTP CONNECT)
with tls-server-name, a SOCKS5 proxy (socks5h, user/password: the name resolved at the proxy) and without
aiohttp-socks a clear refusal naming the extra. A line far longer than aiohttp's 64 KiB readline limit
arrives whole."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import sys
from pathlib import Path

import pytest
import yaml

from falcotui.falco.certs import generate_grpc_certs
from falcotui.kube.apply import Applier
from falcotui.kube.client import Timeouts, load_clients
from falcotui.kube.errors import KubeConfigError
from falcotui.kube.logs import LogFollower
from falcotui.kube.rollout import wait_rollout
from falcotui.sim.api.server import server_ssl_context

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_logs_sim import Collector, server_log
from test_proxies import UNRESOLVABLE, ConnectProxy, Socks5Proxy, kubeconfig_via


class MtlsFront:
    """A TLS server that requires a client certificate signed by its CA and relays to a plain HTTP port."""

    def __init__(self, target_port: int, workdir: Path) -> None:
        self.certs = generate_grpc_certs(server_names=("localhost", "127.0.0.1"))
        self.target_port = target_port
        self.workdir = workdir
        self.peers: list[dict] = []

    async def start(self) -> int:
        ctx = server_ssl_context(self.certs.server_crt, self.certs.server_key, str(self.workdir))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=self.certs.ca_crt.decode())
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ctx)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.append(writer.get_extra_info("peercert") or {})
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError, RuntimeError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def close(self) -> None:
        self.server.close()


def _b64(pem: bytes) -> str:
    return base64.b64encode(pem).decode()


async def _follow_some(kube, pod: str, eventually, n: int = 3) -> Collector:
    got = Collector()
    follower = LogFollower(kube, "falco", pod, got, tail_lines=n)
    follower.start()
    try:
        await eventually(
            lambda: len(got.lines) >= n or any(x.kind == "waiting" for x in got.notices), "lines or a refusal"
        )
    finally:
        await follower.aclose()
    return got


@pytest.fixture
async def falco_pod(make_falco_sim, connect, manifests):
    cluster = make_falco_sim(per_minute=0, nodes=1)
    kube = connect(cluster)
    Applier(kube).apply(manifests)
    pod = (await wait_rollout(kube, "falco", "falco", timeout=30)).nodes[0].pod
    return cluster, kube, pod


async def test_a_client_certificate_and_the_kubeconfigs_ca(falco_pod, tmp_path, eventually):
    cluster, direct, pod = falco_pod
    front = MtlsFront(int(cluster.url.rsplit(":", 1)[1]), tmp_path)
    port = await front.start()
    doc = yaml.safe_load(cluster.write_kubeconfig(tmp_path / "kc").read_text())
    doc["clusters"][0]["cluster"] = {
        "server": f"https://127.0.0.1:{port}",
        "certificate-authority-data": _b64(front.certs.ca_crt),
    }
    doc["users"][0]["user"] = {
        "client-certificate-data": _b64(front.certs.client_crt),
        "client-key-data": _b64(front.certs.client_key),
    }
    (tmp_path / "kc").write_text(yaml.safe_dump(doc))
    kube = load_clients(tmp_path / "kc", environ={}, timeouts=Timeouts(connect=3, read=10))
    try:
        await eventually(lambda: len(server_log(direct, pod)) >= 3, "the start-up lines")
        got = await _follow_some(kube, pod, eventually)
        assert got.of(pod) == server_log(direct, pod)[-3:], [n.detail for n in got.notices]
        assert front.peers and all(p.get("subject") for p in front.peers), "every connection showed its cert"

        # the same front, no client certificate: the handshake fails and the follower says so
        del doc["users"][0]["user"]["client-certificate-data"], doc["users"][0]["user"]["client-key-data"]
        (tmp_path / "kc2").write_text(yaml.safe_dump(doc))
        bare = load_clients(tmp_path / "kc2", environ={}, timeouts=Timeouts(connect=3, read=10))
        got = await _follow_some(bare, pod, eventually)
        bare.close()
        assert not got.lines and any(n.kind == "waiting" for n in got.notices)
    finally:
        kube.close()
        await front.close()


async def test_insecure_skip_tls_verify_and_no_ca(make_falco_sim, manifests, tmp_path, eventually):
    cluster = make_falco_sim(per_minute=0, nodes=1, tls=True)
    path = cluster.write_kubeconfig(tmp_path / "kc")
    kube = load_clients(path, environ={}, timeouts=Timeouts(connect=3, read=10))
    Applier(kube).apply(manifests)
    pod = (await wait_rollout(kube, "falco", "falco", timeout=30)).nodes[0].pod
    await eventually(lambda: len(server_log(kube, pod)) >= 3, "the start-up lines")
    doc = yaml.safe_load(path.read_text())
    del doc["clusters"][0]["cluster"]["certificate-authority-data"]
    (tmp_path / "no-ca").write_text(yaml.safe_dump(doc))
    doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    (tmp_path / "skip").write_text(yaml.safe_dump(doc))
    skip = load_clients(tmp_path / "skip", environ={}, timeouts=Timeouts(connect=3, read=10))
    no_ca = load_clients(tmp_path / "no-ca", environ={}, timeouts=Timeouts(connect=3, read=10))
    try:
        got = await _follow_some(skip, pod, eventually)
        assert got.of(pod) == server_log(kube, pod)[-3:]
        got = await _follow_some(no_ca, pod, eventually)
        assert not got.lines
        assert any("CERTIFICATE_VERIFY_FAILED" in n.detail for n in got.notices), got.notices
    finally:
        for c in (kube, skip, no_ca):
            c.close()


@pytest.mark.parametrize("kind", ["https-connect", "socks5h"])
async def test_a_log_stream_through_a_proxy(kind, make_falco_sim, manifests, tmp_path, eventually):
    """An HTTPS_PROXY tunnel (HTTP CONNECT), or a SOCKS5 proxy-url with user/password whose proxy resolves
    the API server's name: either way only the proxy can reach the server."""
    cluster = make_falco_sim(per_minute=0, nodes=1, tls=True)
    if kind == "socks5h":
        proxy = Socks5Proxy("ops", "s3cret")
        cfg = kubeconfig_via(cluster, tmp_path / "kc", server_host=UNRESOLVABLE, **{"proxy-url": proxy.url})
        env = {}
    else:
        proxy = ConnectProxy()
        cfg = kubeconfig_via(cluster, tmp_path / "kc", server_host=UNRESOLVABLE)
        env = {"HTTPS_PROXY": proxy.url}
    kube = load_clients(cfg, environ=env, timeouts=Timeouts(connect=3, read=10))
    try:
        Applier(kube).apply(manifests)
        pod = (await wait_rollout(kube, "falco", "falco", timeout=30)).nodes[0].pod
        await eventually(lambda: len(server_log(kube, pod)) >= 3, "the start-up lines")
        before = len(proxy.tunnels)
        got = await _follow_some(kube, pod, eventually)
        assert got.of(pod) == server_log(kube, pod)[-3:], [n.detail for n in got.notices]
        port = cluster.url.rsplit(":", 1)[1]
        assert proxy.tunnels[before:] and set(proxy.tunnels[before:]) == {f"{UNRESOLVABLE}:{port}"}
        if kind == "socks5h":
            assert {user for _h, _p, user in proxy.socks} == {"ops"}
    finally:
        kube.close()
        proxy.close()


async def test_a_socks_proxy_without_aiohttp_socks_is_refused_clearly(falco_pod, eventually, monkeypatch):
    _, kube, pod = falco_pod
    kube.api_client.configuration.proxy = "socks5://ops:s3cret@127.0.0.1:1080"  # as a proxy-url loads
    monkeypatch.setitem(sys.modules, "aiohttp_socks", None)  # as when the extra is not installed
    got = await _follow_some(kube, pod, eventually)
    assert not got.lines
    said = "log streams through the SOCKS proxy socks5://…@127.0.0.1:1080 need aiohttp-socks"
    assert any(said in n.detail and "falcotui[socks]" in n.detail for n in got.notices), got.notices
    with pytest.raises(KubeConfigError):
        async with kube.aio.lease():
            await kube.aio.open_stream(f"/api/v1/namespaces/falco/pods/{pod}/log", read_timeout=5)


async def test_a_line_longer_than_aiohttps_readline_limit_arrives_whole(falco_pod, eventually):
    cluster, kube, pod = falco_pod
    got = Collector()
    follower = LogFollower(kube, "falco", pod, got, tail_lines=0)
    follower.start()
    try:
        await eventually(lambda: any(n.kind == "following" for n in got.notices), "following")
        log = cluster.controllers.container_handle("falco", pod, "falco").ctx.log
        long_line = "x" * 300_000
        cluster.call(lambda: log.append("stdout", long_line))
        await eventually(lambda: any(len(x.line) >= 300_000 for x in got.lines), "the long line")
    finally:
        await follower.aclose()
    assert [x.line for x in got.lines if len(x.line) > 1000] == [long_line.encode()]  # LogLine.line: bytes
