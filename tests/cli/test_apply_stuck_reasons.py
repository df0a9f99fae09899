"""`falcotui apply` against simulated clusters where Falco cannot run everywhere: admission refusing its
pods, nodes with foreign taints, a Windows node, a registry answering 429 toomanyrequests. Each ends with
the node, the reason and the way out, and exit 1 - not a timeout."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from falcotui.sim.config import CRITICAL_ADDONS_TAINT, GPU_TAINT, AdmissionRule, NodeSpec


def _load(name: str, path: Path):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_here = Path(__file__).resolve().parent
cli = _load("apply_cmd_tests", _here / "test_apply_cmd.py").cli

KYVERNO = AdmissionRule(
    "webhook",
    "\n\npolicy DaemonSet/falco/falco for resource violation: \n\ndisallow-host-path:\n  host-path: "
    "'validation error: HostPath volumes are forbidden. rule host-path failed at path "
    "/spec/volumes/2/hostPath/' \x1b]0;owned\x07\x1b[2J",
    webhook="validate.kyverno.svc-fail",
    namespace="falco",
)
SCC = AdmissionRule(
    "scc",
    'provider "restricted-v2": Forbidden: not usable by user or serviceaccount, spec.volumes[2]: Invalid '
    'value: "hostPath": hostPath volumes are not allowed to be used',
)
QUOTA = AdmissionRule("quota", "")


@pytest.mark.parametrize(
    ("rule", "refusal", "summary", "way_out"),
    [
        (
            KYVERNO,
            'Error creating: admission webhook "validate.kyverno.svc-fail" denied the request:',
            "admission webhook validate.kyverno.svc-fail refuses to create Falco's pods",
            "exempt namespace falco from that policy",
        ),
        (
            SCC,
            'Error creating: pods "falco-" is forbidden: unable to validate against any security context '
            "constraint:",
            "OpenShift's SecurityContextConstraints refuse Falco's pods",
            "oc adm policy add-scc-to-user privileged -z falco -n falco",
        ),
    ],
    ids=["webhook", "scc"],
)
def test_admission_refusal_fails_fast_with_the_refusal_and_the_way_out(
    falco_sim, rule, refusal, summary, way_out
):
    sim = falco_sim(nodes=2, admission=[rule])
    # --stuck-after longer than --timeout: only the admission fast path can report "stuck" here
    code, out, err = cli(sim, "apply", "--yes", "--timeout", "60", "--stuck-after", "600")
    assert code == 1, out + err
    assert "rollout stuck on 2 node(s): sim-node-01, sim-node-02" in err
    assert f"  sim-node-01: FailedCreate - {refusal}" in err
    assert "2 node(s) fail for one reason: sim-node-01, sim-node-02" in err
    assert summary in err and way_out in err
    assert "sim-node-01: stuck FailedCreate" in out  # the per-node progress line names it as it happens
    assert "\x1b" not in out + err and "\x07" not in out + err  # the webhook text is not ours to print


def test_where_critical_priority_needs_a_quota_falcotuis_own_quota_admits_the_pods(falco_sim, clients_for):
    sim = falco_sim(nodes=2, admission=[QUOTA])  # GKE's default for system-node-critical
    code, out, err = cli(sim, "apply", "--yes", "--timeout", "60")
    assert code == 0, out + err
    assert "ResourceQuota falco/falco-critical-pods: serverside-applied (created)" in out
    # without it (deleted by hand), new pods are refused, and apply says why and what to do
    clients = clients_for(sim)
    clients.request("DELETE", "/api/v1/namespaces/falco/resourcequotas/falco-critical-pods")
    code, out, err = cli(sim, "restart", "--timeout", "60", "--stuck-after", "600")
    assert code == 1, out + err
    assert "Error creating: insufficient quota to match these scopes" in err
    assert "priority class system-node-critical is only allowed where a ResourceQuota covers it" in err
    assert "falcotui apply" in err


def test_nodes_with_foreign_taints_are_reported_and_tolerate_all_covers_them(falco_sim, clients_for):
    sim = falco_sim(
        nodes=1,
        extra_nodes=[
            NodeSpec("gpu-1", taints=[dict(GPU_TAINT)]),
            NodeSpec("system-1", taints=[dict(CRITICAL_ADDONS_TAINT)]),
        ],
    )
    code, out, err = cli(sim, "apply", "--yes", "--timeout", "60")
    assert code == 1, out + err
    assert 'daemon set "falco" successfully rolled out' in out  # on the one node it may run on
    assert "Falco does not run on 2 node(s): gpu-1, system-1" in err
    assert (
        "node gpu-1 skipped: taint nvidia.com/gpu=present:NoSchedule not tolerated — use --tolerate-all "
        "or add a toleration for nvidia.com/gpu to the DaemonSet"
    ) in err
    assert "node system-1 skipped: taint CriticalAddonsOnly=true:NoSchedule not tolerated" in err
    code, out, err = cli(sim, "apply", "--yes", "--tolerate-all", "--timeout", "60")
    assert code == 0, out + err
    assert "skipped" not in out + err
    pods = clients_for(sim).request("GET", "/api/v1/namespaces/falco/pods")["items"]
    assert {p["spec"]["nodeName"] for p in pods} == {"sim-node-01", "gpu-1", "system-1"}


def test_a_windows_node_is_reported_not_given_a_linux_pod(falco_sim, clients_for):
    sim = falco_sim(nodes=1, extra_nodes=[NodeSpec("win-1", os="windows")])
    code, out, err = cli(sim, "apply", "--yes", "--timeout", "60")
    assert code == 1, out + err
    assert (
        "node win-1 skipped: a windows node (kubernetes.io/os=windows): Falco runs on Linux only — nothing "
        "to change on Falco's side: this node stays unmonitored (--allow-uncovered)"
    ) in err
    pods = clients_for(sim).request("GET", "/api/v1/namespaces/falco/pods")["items"]
    assert {p["spec"]["nodeName"] for p in pods} == {"sim-node-01"}
    code, out, err = cli(sim, "apply", "--yes", "--allow-uncovered", "--timeout", "60")
    assert code == 0, out + err
    assert "node win-1 skipped: a windows node" in out and err == ""
    # restart follows the same rollout and judges it the same way: the Windows node is named, exit 1 ...
    code, out, err = cli(sim, "restart", "--timeout", "60")
    assert code == 1, out + err
    assert "restarted" in out and "node win-1 skipped: a windows node" in err
    # ... unless the uncovered node is accepted
    code, out, err = cli(sim, "restart", "--allow-uncovered", "--timeout", "60")
    assert code == 0, out + err
    assert "node win-1 skipped: a windows node" in out and err == ""


def test_registry_rate_limit_is_named_with_the_ways_out(falco_sim):
    sim = falco_sim(nodes=2, registry_rate_limited_nodes={"sim-node-02"})
    code, out, err = cli(sim, "apply", "--yes", "--timeout", "60", "--stuck-after", "1")
    assert code == 1, out + err
    assert "rollout stuck on 1 node(s): sim-node-02" in err
    assert "toomanyrequests: You have reached your pull rate limit" in err  # the registry's own words
    assert "1 node(s) fail for one reason: sim-node-02" in err
    assert "the registry rate-limits this node's image pulls (429 toomanyrequests)" in err
    assert "imagePullSecret" in err and "registry mirror" in err
