"""`falcotui apply` / `falcotui delete` against the simulated cluster over HTTP, through a parser built here
(the lead wires `apply_cmd` into `falcotui/cli/__init__.py`)."""

from __future__ import annotations

import io

from falcotui.cli import build_parser
from falcotui.kube.errors import KubeApiError
from falcotui.sim.config import NodeSpec


class Terminal(io.StringIO):
    """A stream that says it is a terminal (for the prompt and the progress bar)."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)

    def isatty(self) -> bool:
        return True


def cli(sim, *argv: str, stdin: io.StringIO | None = None, out: io.StringIO | None = None):
    args = build_parser().parse_args([*argv, "--kubeconfig", str(sim.kubeconfig)])
    out = out if out is not None else io.StringIO()
    err = io.StringIO()
    code = args.handler(args, out, err, stdin if stdin is not None else io.StringIO())
    return code, out.getvalue(), err.getvalue()


def namespace_exists(clients) -> bool:
    try:
        clients.request("GET", "/api/v1/namespaces/falco")
        return True
    except KubeApiError as exc:
        assert exc.code == 404
        return False


def test_apply_needs_yes_without_a_terminal_and_dry_run_changes_nothing(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    code, out, err = cli(sim, "apply")
    assert code == 2 and "refusing without --yes" in err
    assert "created  DaemonSet falco/falco" in out  # the diff is shown before the question
    code, out, _ = cli(sim, "apply", "--dry-run")
    assert code == 0 and "+kind: DaemonSet" in out and "object(s) to create or change" in out
    code, out, err = cli(sim, "apply", stdin=Terminal("n\n"))
    assert code == 1 and "Apply these changes? [y/N]" in out and "aborted" in err
    assert not namespace_exists(clients)


def test_apply_rolls_out_with_plain_lines_when_piped_then_reapply_keeps_rules(falco_sim, clients_for):
    sim = falco_sim(nodes=2)
    code, out, err = cli(sim, "apply", "--yes")
    assert code == 0, err
    assert "DaemonSet falco/falco: serverside-applied (created)" in out
    assert out.count('daemon set "falco" successfully rolled out') == 1
    for node in ("sim-node-01", "sim-node-02"):
        assert f"  {node}: ready pod falco-" in out
    assert "\r" not in out  # no progress bar when piped
    code, out, err = cli(sim, "apply", "--yes")
    assert code == 0, err
    assert "kept  ConfigMap falco/falco-rules  (exists, left as it is" in out
    assert "0 object(s) to create or change" in out


def test_apply_on_a_terminal_draws_a_progress_bar(falco_sim):
    sim = falco_sim(nodes=2)
    term = Terminal()
    code, _, err = cli(sim, "apply", stdin=Terminal("y\n"), out=term)
    assert code == 0, err
    shown = term.getvalue()
    assert "Apply these changes? [y/N]" in shown
    assert "[##############################] 2/2 nodes ready" in shown


def test_unpullable_image_tag_exits_non_zero_naming_nodes_and_reason(falco_sim):
    sim = falco_sim(nodes=2)
    argv = ["apply", "--yes", "--image-tag", "9.9.9", "--stuck-after", "0.5", "--timeout", "9"]
    code, _, err = cli(sim, *argv)
    assert code == 1
    assert "rollout stuck on 2 node(s): sim-node-01, sim-node-02" in err
    assert "ImagePullBackOff" in err or "ErrImagePull" in err
    assert "falcosecurity/falco:9.9.9" in err


def test_grpc_apply_twice_keeps_the_certificates_then_delete_removes_everything(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    code, out, err = cli(sim, "apply", "--grpc", "--yes")
    assert code == 0, err
    assert "created  Secret falco/falco-grpc-server" in out and "BEGIN" not in out
    secret = clients.request("GET", "/api/v1/namespaces/falco/secrets/falco-grpc-client")
    code, out, err = cli(sim, "apply", "--grpc", "--yes")
    assert code == 0, err
    assert "unchanged  Secret falco/falco-grpc-client  (existing certificates kept)" in out
    again = clients.request("GET", "/api/v1/namespaces/falco/secrets/falco-grpc-client")
    assert again["data"] == secret["data"]
    code, out, err = cli(sim, "delete")
    assert code == 2 and "refusing without --yes" in err
    code, out, err = cli(sim, "delete", "--yes")
    assert code == 0, err
    assert "DaemonSet falco/falco: deleted" in out and "Secret falco/falco-grpc-server: deleted" in out
    assert out.rstrip().endswith("Falco removed")
    pods = clients.request("GET", "/api/v1/namespaces/falco/pods")
    assert pods.get("items", []) == []


def test_a_bad_option_or_kubeconfig_is_a_clear_error(falco_sim, tmp_path):
    sim = falco_sim(nodes=1)
    code, _, err = cli(sim, "apply", "--yes", "--image-tag", "latest")
    assert code == 1 and "refusing image tag 'latest'" in err and "Traceback" not in err
    sim.kubeconfig = tmp_path / "missing"
    code, _, err = cli(sim, "apply", "--yes")
    assert code == 1 and "does not exist" in err


def test_fields_taken_by_another_manager_are_a_conflict_until_force(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    assert cli(sim, "apply", "--yes")[0] == 0
    path = "/api/v1/namespaces/falco/configmaps/falco-config"
    meta = {"name": "falco-config", "namespace": "falco"}
    data = {"falco.yaml": "# tuned by hand\n"}
    theirs = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
    clients.request("PATCH", path, query=[("fieldManager", "helm"), ("force", "true")], body=theirs,
                    content_type="application/apply-patch+yaml")  # fmt: skip
    code, out, err = cli(sim, "apply", "--yes")
    assert code == 1
    assert "  changed  ConfigMap falco/falco-config  (CONFLICT: fields owned by another manager)" in out
    assert "-    # tuned by hand\n+    # Keep loading" in out  # what --force would change
    assert "owned by 'helm'" in err and "re-run with --force" in err
    assert clients.request("GET", path)["data"]["falco.yaml"] == "# tuned by hand\n"
    code, out, err = cli(sim, "apply", "--yes", "--force")
    assert code == 0, err
    assert "-    # tuned by hand\n+    # Keep loading" in out, out  # a readable block-style diff
    assert "rules_files:" in clients.request("GET", path)["data"]["falco.yaml"]


def test_apply_names_the_perf_event_paranoid_nodes_and_the_ways_out(falco_sim):
    sim = falco_sim(nodes=1, extra_nodes=[NodeSpec("ubuntu-1", perf_event_paranoid=4)])
    code, out, text = cli(sim, "apply", "--yes", "--stuck-after", "1", "--timeout", "20")
    assert code == 1, out + text
    assert "rollout stuck on 1 node(s): ubuntu-1" in text
    assert "1 node(s) fail for one reason: ubuntu-1" in text
    assert "kernel.perf_event_paranoid > 2: modern_ebpf needs CAP_SYS_ADMIN" in text
    assert "kernel.perf_event_paranoid=2 on the node" in text and "falcotui apply --privileged" in text
    assert "perf_event_open() failed: Permission denied" in text  # the evidence, from the pod's log


# ---- ownership: only what falcotui created is deleted (issue 13, finding 1) ------------------------------
def _make_shared_namespace(clients) -> None:
    labels = {"pod-security.kubernetes.io/enforce": "baseline", "team": "payments"}
    clients.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "shared", "labels": labels}})
    cm = {"metadata": {"name": "payments-config"}, "data": {"k": "v"}}
    clients.request("POST", "/api/v1/namespaces/shared/configmaps", body=cm)


def test_delete_keeps_an_adopted_namespace_and_what_falcotui_did_not_create(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    _make_shared_namespace(clients)
    code, out, err = cli(sim, "apply", "-n", "shared", "--yes")
    assert code == 0, err
    assert "kept  Namespace shared  (exists, not created by falcotui: left as it is" in out
    assert "pod-security.kubernetes.io/enforce: baseline -> privileged" in out
    assert "labels of namespace shared are left as they are (pass --label-namespace" in err
    ns = clients.request("GET", "/api/v1/namespaces/shared")
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline" and labels["team"] == "payments"
    assert not {k for k in labels if k.startswith("app.kubernetes.io/")}
    assert "falcotui.io/ownership" not in (ns["metadata"].get("annotations") or {})
    ds = clients.request("GET", "/apis/apps/v1/namespaces/shared/daemonsets/falco")
    assert ds["metadata"]["annotations"]["falcotui.io/ownership"] == "created"

    code, out, err = cli(sim, "delete", "-n", "shared", stdin=Terminal("n\n"))
    assert code == 1 and "aborted, nothing deleted" in err
    listed = out[: out.index("Delete these")]
    assert "delete  DaemonSet shared/falco" in listed and "delete  ConfigMap shared/falco-rules" in listed
    assert "keep  Namespace shared  (not created by falcotui)" in listed
    assert "payments-config" not in listed

    code, out, err = cli(sim, "delete", "-n", "shared", "--yes")
    assert code == 0, err
    assert clients.request("GET", "/api/v1/namespaces/shared")["metadata"]["name"] == "shared"
    assert clients.request("GET", "/api/v1/namespaces/shared/configmaps/payments-config")["data"] == {
        "k": "v"
    }
    left = clients.request("GET", "/api/v1/namespaces/shared/configmaps")["items"]
    assert {c["metadata"]["name"] for c in left} <= {"payments-config", "kube-root-ca.crt"}
    assert clients.request("GET", "/apis/apps/v1/namespaces/shared/daemonsets")["items"] == []


def test_the_label_change_of_an_adopted_namespace_is_asked_for(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    _make_shared_namespace(clients)
    code, out, err = cli(sim, "apply", "-n", "shared", "--dry-run")
    assert code == 0 and "Change these labels?" not in out
    code, out, err = cli(sim, "apply", "-n", "shared", stdin=Terminal("y\ny\n"))
    assert code == 0, err
    assert "Change these labels? [y/N]" in out and "Apply these changes? [y/N]" in out
    labels = clients.request("GET", "/api/v1/namespaces/shared")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged" and labels["team"] == "payments"
    assert "app.kubernetes.io/managed-by" not in labels  # falcotui does not manage someone else's namespace
    ns = clients.request("GET", "/api/v1/namespaces/shared")
    assert ns["metadata"]["annotations"]["falcotui.io/ownership"] == "adopted"
    # adopted, so delete keeps it even after relabelling
    code, out, err = cli(sim, "delete", "-n", "shared", "--yes")
    assert code == 0, err
    assert "keep  Namespace shared  (not created by falcotui)" in out
    assert clients.request("GET", "/api/v1/namespaces/shared/configmaps/payments-config")


def test_a_namespace_falcotui_created_is_kept_when_it_holds_something_else(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    clients = clients_for(sim)
    assert cli(sim, "apply", "--yes")[0] == 0
    ns = clients.request("GET", "/api/v1/namespaces/falco")
    assert ns["metadata"]["annotations"]["falcotui.io/ownership"] == "created"
    cm = {"metadata": {"name": "someone-elses"}, "data": {}}
    clients.request("POST", "/api/v1/namespaces/falco/configmaps", body=cm)
    code, out, err = cli(sim, "delete", "--yes")
    assert code == 0, err
    assert "keep  Namespace falco  (created by falcotui, but it also holds ConfigMap someone-elses)" in out
    assert clients.request("GET", "/api/v1/namespaces/falco/configmaps/someone-elses")
    clients.request("DELETE", "/api/v1/namespaces/falco/configmaps/someone-elses")
    code, out, err = cli(sim, "delete", "--yes")
    assert code == 0, err
    assert "delete  Namespace falco  (created by falcotui; it holds nothing else)" in out


def test_apply_pins_the_image_by_digest(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    digest = "sha256:" + "0123456789abcdef" * 4
    code, _out, err = cli(sim, "apply", "--yes", "--image-tag", f"0.45.0@{digest}", "--timeout", "60")
    assert code == 0, err
    ds = clients_for(sim).request("GET", "/apis/apps/v1/namespaces/falco/daemonsets/falco")
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == f"falcosecurity/falco:0.45.0@{digest}"


def test_apply_privileged_gets_past_perf_event_paranoid(falco_sim):
    sim = falco_sim(nodes=1, extra_nodes=[NodeSpec("ubuntu-1", perf_event_paranoid=4)])
    code, out, err = cli(sim, "apply", "--yes", "--privileged", "--stuck-after", "5", "--timeout", "30")
    assert code == 0, out + err  # the second way out the least-privilege failure names
    assert "perf_event_paranoid" not in err
