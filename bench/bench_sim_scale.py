"""How the simulated cluster scales: apply + rollout to N nodes through the real kubectl.

Not a test. The baseline is the same journey on a small cluster measured in the same run, so the
printed ratio says how the cost grows with the node count on whatever machine this runs on.
Usage: python bench/bench_sim_scale.py [N] [BASELINE_N]   (defaults 1000 and 10)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from falcotui.kube.kubectl_binary import KubectlNotFound, find_kubectl
from falcotui.sim.cluster import SimCluster
from falcotui.sim.config import SimConfig

MANIFESTS = Path(__file__).resolve().parent.parent / "manifests"


def rss_mib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return 0


def journey(kubectl_path: str, nodes: int) -> dict[str, float]:
    cfg = SimConfig(nodes=nodes, image_pull_delay=0.01, container_start_delay=0.01, ready_delay=0.01)
    cache = tempfile.mkdtemp()
    t0 = time.monotonic()
    cluster = SimCluster(cfg).start()
    try:
        up = time.monotonic() - t0

        def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
            cmd = [kubectl_path, "--kubeconfig", str(cluster.kubeconfig_path), "--cache-dir", cache, *args]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise SystemExit(f"kubectl {' '.join(args)} failed: {done.stderr}")
            return done

        t0 = time.monotonic()
        kubectl("apply", "--server-side", "-f", str(MANIFESTS))
        kubectl("rollout", "status", "ds/falco", "-n", "falco", "--timeout=900s")
        rollout = time.monotonic() - t0
        t0 = time.monotonic()
        rows = kubectl("get", "pods", "-n", "falco", "-o", "wide").stdout.count("\n") - 1
        get_pods = time.monotonic() - t0
        return {"up": up, "rollout": rollout, "get_pods": get_pods, "rows": rows, "rss": rss_mib()}
    finally:
        cluster.stop()
        shutil.rmtree(cache, ignore_errors=True)


def main() -> None:
    try:
        kubectl_path = find_kubectl().path
    except KubectlNotFound as exc:
        raise SystemExit(f"bench_sim_scale: {exc}") from None
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    base_n = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    base = journey(kubectl_path, base_n)
    big = journey(kubectl_path, n)
    print(f"{'step':<28}{base_n:>8} nodes{n:>10} nodes{'ratio':>10}")
    for key, label in (
        ("up", "cluster up (s)"),
        ("rollout", "apply + rollout status (s)"),
        ("get_pods", "get pods -o wide (s)"),
    ):
        print(f"{label:<28}{base[key]:>14.2f}{big[key]:>16.2f}{big[key] / base[key]:>10.1f}x")
    print(f"{'pods listed':<28}{base['rows']:>14.0f}{big['rows']:>16.0f}")
    print(f"process RSS after the big run: {big['rss']} MiB (node count ratio {n / base_n:.0f}x)")


if __name__ == "__main__":
    main()
