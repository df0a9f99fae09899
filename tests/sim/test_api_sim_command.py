"""`falcotui sim` runs a cluster in the foreground that kubectl can use, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys


def test_sim_command_serves_kubectl_until_interrupted(tmp_path, kubectl_path):
    kubeconfig = tmp_path / "sim.kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "falcotui", "sim", "--nodes", "2", "--tls", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        assert "listening on https://127.0.0.1:" in text
        assert f"KUBECONFIG={kubeconfig} " in text and "get nodes" in text
        cmd = [kubectl_path, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "c")]
        out = subprocess.run([*cmd, "get", "nodes", "-o", "name"], capture_output=True, text=True, timeout=30)
        assert out.stdout.split() == ["node/sim-cp-1", "node/sim-node-01"], out.stderr
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=20)
        assert proc.returncode == 0
        assert "stopping the simulated cluster" in rest
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sim_command_stops_on_sigterm_like_ctrl_c(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "falcotui", "sim", "--nodes", "1", "--kubeconfig", str(tmp_path / "kc")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:
            if line.startswith("Press Ctrl-C"):
                break
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "stopping the simulated cluster" in rest
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sim_command_rejects_bad_arguments():
    proc = subprocess.run([sys.executable, "-m", "falcotui", "sim", "--nodes", "0"], capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2
    assert "falcotui sim: --nodes must be at least 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "falcotui", "sim", "--scenario", "storm", "--rate", "0"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2 and "--rate must be positive" in proc.stderr


def test_sim_command_platform_faults_meet_falcotui_apply(tmp_path, kubectl_path):
    kubeconfig = tmp_path / "kc"
    faults = [
        "--gpu-nodes",
        "1",
        "--windows-nodes",
        "1",
        "--server-version",
        "v1.29.10",
        "--refuse-pods",
        "webhook",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "falcotui", "sim", "--nodes", "2", *faults, "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:
            if line.startswith("Press Ctrl-C"):
                break
        cmd = [kubectl_path, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "c")]
        out = subprocess.run([*cmd, "get", "nodes", "-o", "name"], capture_output=True, text=True, timeout=30)
        assert out.stdout.split() == ["node/gpu-1", "node/sim-cp-1", "node/sim-node-01", "node/win-1"], (
            out.stderr
        )
        apply = [sys.executable, "-m", "falcotui", "apply", "--yes", "--kubeconfig", str(kubeconfig)]
        done = subprocess.run(apply, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "API server v1.29.10 predates securityContext.appArmorProfile" in done.stdout
        assert "admission webhook validate.policy.example.com refuses to create Falco's pods" in done.stderr
        assert "node gpu-1 skipped: taint nvidia.com/gpu=present:NoSchedule not tolerated" in done.stderr
        assert "node win-1 skipped: a windows node" in done.stderr
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sim_command_ubuntu_and_socketless_nodes_meet_falcotui_apply(tmp_path, kubectl_path):
    kubeconfig = tmp_path / "kc"
    faults = ["--ubuntu-nodes", "1", "--socketless-nodes", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "falcotui", "sim", "--nodes", "1", *faults, "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:
            if line.startswith("Press Ctrl-C"):
                break
        apply = [sys.executable, "-m", "falcotui", "apply", "--yes", "--kubeconfig", str(kubeconfig)]
        apply += ["--stuck-after", "3", "--timeout", "90"]
        done = subprocess.run(apply, capture_output=True, text=True, timeout=150)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "1 node(s) fail for one reason: ubuntu-1" in done.stderr
        assert "kernel.perf_event_paranoid > 2: modern_ebpf needs CAP_SYS_ADMIN" in done.stderr
        assert "socketless-1" not in done.stderr.split("rollout stuck on", 1)[-1].split("\n", 1)[0]  # it runs
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
