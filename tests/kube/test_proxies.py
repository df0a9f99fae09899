"""Kubeconfig oddities and proxies the simulator alone cannot show: empty files in KUBECONFIG, `proxy-url`,
HTTPS_PROXY/NO_PROXY for REST and for the websockets of exec and port-forward (a loopback HTTP CONNECT
proxy in front of the TLS API server), a real SOCKS5 proxy (RFC 1928 with RFC 1929 user/password, below)
for REST, and a SOCKS proxy without its extra installed."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from falcotui.kube.apply import Applier
from falcotui.kube.client import Timeouts, list_contexts, load_clients
from falcotui.kube.errors import KubeConfigError, KubeConnectionError
from falcotui.kube.exec import read_file
from falcotui.kube.kubectl_binary import KubectlNotFound, find_kubectl
from falcotui.kube.rollout import wait_rollout
from falcotui.sim.cluster import SimCluster

UNRESOLVABLE = "apiserver.falcotui.invalid"  # RFC 6761: never resolves; only the proxy knows where it is


class ConnectProxy:
    """An HTTP CONNECT proxy on loopback (own thread and loop) that sends every tunnel to 127.0.0.1."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            if method != "CONNECT":
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                return
            self.tunnels.append(target)
            port = int(target.rsplit(":", 1)[1])
            await _relay(reader, writer, port, b"HTTP/1.1 200 Connection established\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            with contextlib.suppress(RuntimeError):
                writer.close()

    async def _shutdown(self) -> None:
        self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class Socks5Proxy(ConnectProxy):
    """A SOCKS5 proxy on loopback (RFC 1928 CONNECT; RFC 1929 user/password when `user` is set) that sends
    every connection to 127.0.0.1 at the asked port; `tunnels` holds (asked host, port, user) each."""

    def __init__(self, user: str = "", password: str = "") -> None:
        self.user, self.password = user, password
        self.socks: list[tuple[str, int, str]] = []
        super().__init__()

    @property
    def url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.user else ""
        return f"socks5h://{auth}127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            version, count = await reader.readexactly(2)
            methods = await reader.readexactly(count)
            want = 2 if self.user else 0  # 0x02 username/password, 0x00 none
            if version != 5 or want not in methods:
                writer.write(bytes([5, 0xFF]))  # no acceptable method
                return
            writer.write(bytes([5, want]))
            user = ""
            if want == 2:
                _v, ulen = await reader.readexactly(2)
                user = (await reader.readexactly(ulen)).decode()
                (plen,) = await reader.readexactly(1)
                password = (await reader.readexactly(plen)).decode()
                ok = (user, password) == (self.user, self.password)
                writer.write(bytes([1, 0 if ok else 1]))
                if not ok:
                    return
            _v, cmd, _rsv, atyp = await reader.readexactly(4)
            if atyp == 3:  # a name: the client leaves resolving it to us (socks5h)
                (n,) = await reader.readexactly(1)
                host = (await reader.readexactly(n)).decode()
            else:
                host = ".".join(str(b) for b in await reader.readexactly(4 if atyp == 1 else 16))
            port = int.from_bytes(await reader.readexactly(2), "big")
            if cmd != 1:
                writer.write(bytes([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]))  # command not supported
                return
            self.socks.append((host, port, user))
            self.tunnels.append(f"{host}:{port}")
            await _relay(reader, writer, port, bytes([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]))  # succeeded
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            with contextlib.suppress(RuntimeError):
                writer.close()


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, reply: bytes) -> None:
    """Connect to 127.0.0.1:`port`, answer `reply` to the client, then copy both ways until either ends."""
    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(reply)
    await writer.drain()
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    with contextlib.suppress(OSError, RuntimeError):
        dst.write_eof()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    p = ConnectProxy()
    yield p
    p.close()


def kubeconfig_via(cluster: SimCluster, path: Path, *, server_host: str, **cluster_fields: object) -> Path:
    doc = yaml.safe_load(cluster.write_kubeconfig(path).read_text())
    port = cluster.url.rsplit(":", 1)[1]
    doc["clusters"][0]["cluster"]["server"] = f"https://{server_host}:{port}"
    doc["clusters"][0]["cluster"]["tls-server-name"] = "localhost"  # what the simulator's certificate names
    doc["clusters"][0]["cluster"].update(cluster_fields)
    path.write_text(yaml.safe_dump(doc))
    return path


async def test_https_proxy_carries_rest_exec_and_port_forward(make_falco_sim, manifests, proxy, tmp_path):
    cluster = make_falco_sim(nodes=1, tls=True)
    cfg = kubeconfig_via(cluster, tmp_path / "kc", server_host=UNRESOLVABLE)
    env = {"HTTPS_PROXY": proxy.url}
    kube = load_clients(cfg, environ=env, timeouts=Timeouts(connect=3, read=15))
    try:
        Applier(kube).apply(manifests)
        pod = (await wait_rollout(kube, "falco", "falco", timeout=30)).nodes[0].pod
        rest_tunnels = len(proxy.tunnels)
        assert rest_tunnels >= 1 and set(proxy.tunnels) == {f"{UNRESOLVABLE}:{cluster.url.rsplit(':', 1)[1]}"}
        text = await asyncio.to_thread(read_file, kube, "falco", pod, "/etc/falco/falco.yaml")
        assert "rules_files" in text
        assert len(proxy.tunnels) > rest_tunnels, "the exec websocket went through the proxy"
        from falcotui.kube.portforward import open_pod_socket

        before = len(proxy.tunnels)
        sock, pf = await asyncio.to_thread(open_pod_socket, kube, "falco", pod, 8765)
        sock.close()
        pf.close()  # type: ignore[attr-defined]
        assert len(proxy.tunnels) == before + 1, "the port-forward websocket went through the proxy"
    finally:
        kube.close()


def test_no_proxy_and_loopback_bypass_the_environment_proxy(make_sim, proxy, tmp_path):
    cluster = make_sim(nodes=1, tls=True)
    cfg = kubeconfig_via(cluster, tmp_path / "kc", server_host=UNRESOLVABLE)
    kube = load_clients(cfg, environ={"HTTPS_PROXY": proxy.url, "NO_PROXY": ".falcotui.invalid"},
                        timeouts=Timeouts(connect=3, read=5))  # fmt: skip
    with pytest.raises(KubeConnectionError):
        kube.request("GET", "/api/v1/nodes")  # straight to a name nothing resolves
    kube.close()
    # kubectl (Go's ProxyFromEnvironment) never sends localhost or loopback addresses to the proxy
    loop_cfg = kubeconfig_via(cluster, tmp_path / "kc2", server_host="127.0.0.1")
    kube = load_clients(loop_cfg, environ={"HTTPS_PROXY": proxy.url}, timeouts=Timeouts(connect=3, read=5))
    assert kube.request("GET", "/api/v1/nodes")["items"]
    kube.close()
    assert proxy.tunnels == []


def test_proxy_url_in_the_kubeconfig_wins_even_for_loopback(make_sim, proxy, tmp_path):
    cluster = make_sim(nodes=1, tls=True)
    cfg = kubeconfig_via(cluster, tmp_path / "kc", server_host="127.0.0.1", **{"proxy-url": proxy.url})
    kube = load_clients(cfg, environ={}, timeouts=Timeouts(connect=3, read=5))
    assert kube.request("GET", "/api/v1/nodes")["items"]
    kube.close()
    assert proxy.tunnels


def test_a_socks5_proxy_carries_rest_with_the_name_resolved_at_the_proxy(make_sim, tmp_path):
    cluster = make_sim(nodes=1, tls=True)
    proxy = Socks5Proxy("ops", "s3cret")
    cfg = kubeconfig_via(cluster, tmp_path / "kc", server_host=UNRESOLVABLE, **{"proxy-url": proxy.url})
    try:
        kube = load_clients(cfg, environ={}, timeouts=Timeouts(connect=3, read=5))
        assert kube.request("GET", "/api/v1/nodes")["items"]
        kube.close()
        assert proxy.socks and set(proxy.socks) == {(UNRESOLVABLE, int(cluster.url.rsplit(":", 1)[1]), "ops")}
    finally:
        proxy.close()


def test_a_socks_proxy_without_its_packages_names_the_extra(make_sim, tmp_path, monkeypatch):
    cluster = make_sim(nodes=1)
    doc = yaml.safe_load(cluster.write_kubeconfig(tmp_path / "kc").read_text())
    doc["clusters"][0]["cluster"]["proxy-url"] = "socks5://user:secret@127.0.0.1:1080"
    (tmp_path / "kc").write_text(yaml.safe_dump(doc))
    for module, package in (("socks", "PySocks"), ("aiohttp_socks", "aiohttp-socks")):
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, module, None)  # as when the extra is not installed
            with pytest.raises(KubeConfigError) as failed:
                load_clients(tmp_path / "kc", environ={})
        said = str(failed.value)
        assert f"needs the {package} package" in said and "falcotui[socks]" in said and "secret" not in said


def test_empty_files_in_kubeconfig_are_skipped_like_kubectl(make_sim, tmp_path):
    cluster = make_sim(nodes=1)
    real = cluster.write_kubeconfig(tmp_path / "real")
    empty, comments = tmp_path / "empty", tmp_path / "comments"
    empty.write_text("")
    comments.write_text("# nothing here yet\n")
    env = {"KUBECONFIG": f"{empty}:{comments}:{tmp_path / 'missing'}:{real}"}
    contexts, current = list_contexts(environ=env)
    assert [c.name for c in contexts] == [current]
    kube = load_clients(environ=env, timeouts=Timeouts(connect=2, read=5))
    assert kube.request("GET", "/api/v1/nodes")["items"]
    kube.close()
    try:
        kubectl = find_kubectl()
    except KubectlNotFound:
        return
    argv = [kubectl.path, "get", "nodes", "-o", "name", "--cache-dir", str(tmp_path / "cache")]
    env = {"KUBECONFIG": env["KUBECONFIG"], "PATH": "/usr/bin:/bin"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr  # kubectl agrees: the empty files are no error


def test_exec_and_port_forward_refuse_a_socks_proxy_clearly(make_sim, tmp_path):
    """The websocket client is only ever given an HTTP CONNECT proxy by the official client."""
    cluster = make_sim(nodes=1)
    kube = load_clients(cluster.write_kubeconfig(tmp_path / "kc"), environ={})
    kube.api_client.configuration.proxy = "socks5://127.0.0.1:1080"  # as a socks5 proxy-url loads
    with pytest.raises(
        KubeConfigError, match=r"cannot go through the SOCKS proxy socks5://127\.0\.0\.1:1080"
    ):
        read_file(kube, "falco", "any", "/etc/falco/falco.yaml")
    kube.close()
