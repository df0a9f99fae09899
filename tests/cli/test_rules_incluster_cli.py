"""`falcotui rules validate --in-cluster` and `rules push --validate-in-cluster` against a simulated cluster
running Falco 0.43.1 beside 0.45.0 (issue 18): each version's `falco -V` verdict printed beside falcotui's,
a push that one of them refuses stopped before anything is sent, a disagreement said as such, and the
pods' /tmp listed with the real kubectl afterwards: nothing left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from simkit import MODIFIER_RULE, NEW_RULE, falco_pods, run_two_falco_versions, set_falco_image_tag
from test_rules_cmd_cluster import cli, live_rules

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"


def kubectl_exec(sim, pod: str, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(sim.kubeconfig), "--cache-dir", str(tmp_path / "kcache"),
         "exec", "-n", "falco", pod, "-c", "falco", "--", *argv],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def kubectl_ls_tmp(sim, pod: str, tmp_path: Path) -> list[str]:
    done = kubectl_exec(sim, pod, tmp_path, "ls", "-a", "/tmp")
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_validate_in_cluster_beside_falcotui_then_a_refused_push(falco_sim, clients_for, tmp_path):
    sim = falco_sim(nodes=2)
    code, _, err = cli(sim, "apply", "--yes")
    assert code == 0, err
    clients = clients_for(sim)
    chosen = run_two_falco_versions(clients)
    work = tmp_path / "rules"
    assert cli(sim, "rules", "pull", "-o", str(work))[0] == 0

    (work / "zz-new.yaml").write_text(NEW_RULE)
    code, out, err = cli(sim, "rules", "validate", "--in-cluster", str(work / "zz-new.yaml"))
    assert code == 0, out + err
    lines = out.splitlines()
    for version in ("0.43.1", "0.45.0"):
        pod = chosen[version]["metadata"]["name"]
        [line] = [ln for ln in lines if ln.startswith(f"  Falco {version} (pod {pod} on ")]
        assert line.endswith("valid   falcotui: valid   agree"), line

    (work / "zz-new.yaml").write_text(MODIFIER_RULE)
    before = live_rules(clients)["metadata"]["resourceVersion"]
    code, out, err = cli(sim, "rules", "push", "--validate-in-cluster", "--yes", str(work / "zz-new.yaml"))
    assert code == 1 and "the cluster's Falco did not accept the rules" in err and "nothing" in err
    [old] = [ln for ln in out.splitlines() if ln.startswith("  Falco 0.43.1 ")]
    assert "INVALID   falcotui: INVALID   agree" in old, out
    assert (
        "    zz-new.yaml:2:3: error LOAD_ERR_COMPILE_CONDITION: unexpected token after 'oneof', "
        "expecting 'or', 'and' [rule 'Shell from a known prefix']" in out
    ), out
    [new] = [ln for ln in out.splitlines() if ln.startswith("  Falco 0.45.0 ")]
    assert "valid   falcotui: valid   agree" in new
    assert live_rules(clients)["metadata"]["resourceVersion"] == before  # nothing sent

    for pod in chosen.values():  # the real kubectl lists each pod's /tmp: empty again
        assert kubectl_ls_tmp(sim, pod["metadata"]["name"], tmp_path) == [".", ".."]

    # the same steps by hand with the real kubectl: the simulated container answers it alike
    name = chosen["0.43.1"]["metadata"]["name"]
    made = kubectl_exec(sim, name, tmp_path, "mktemp", "-d", "/tmp/by-hand.XXXXXX")
    assert made.returncode == 0, made.stderr
    folder = made.stdout.strip()
    wrote = kubectl_exec(
        sim, name, tmp_path, "sh", "-c", 'printf %s "$1" > "$2"', "sh", NEW_RULE, f"{folder}/r.yaml"
    )
    assert wrote.returncode == 0, wrote.stderr
    checked = kubectl_exec(
        sim,
        name,
        tmp_path,
        "/usr/bin/falco",
        "-c",
        "/etc/falco-config/falco.yaml",
        "-V",
        "/etc/falco/falco_rules.yaml",
        "-V",
        f"{folder}/r.yaml",
        "-o",
        "json_output=false",
    )  # fmt: skip  (falcotui's falco.yaml has json_output: true, which -V follows)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.endswith(f"/etc/falco/falco_rules.yaml: Ok\n{folder}/r.yaml: Ok\n"), checked.stdout
    readonly = kubectl_exec(sim, name, tmp_path, "sh", "-c", "printf x > /etc/falco/x.yaml")
    assert (
        readonly.returncode == 2
        and "can't create /etc/falco/x.yaml: Read-only file system" in readonly.stderr
    )
    assert kubectl_exec(sim, name, tmp_path, "rm", "-rf", folder).returncode == 0
    assert kubectl_ls_tmp(sim, name, tmp_path) == [".", ".."]


def test_a_disagreement_is_said_and_read_only_refuses(falco_sim, clients_for, tmp_path):
    sim = falco_sim(nodes=1)
    code, _, err = cli(sim, "apply", "--yes")
    assert code == 0, err
    clients = clients_for(sim)
    [pod] = [p["metadata"]["name"] for p in falco_pods(clients)]
    set_falco_image_tag(clients, pod, "0.43.1")  # the tag now misnames the 0.45.0 the container runs
    rules = tmp_path / "zz-new.yaml"
    rules.write_text(MODIFIER_RULE)
    code, out, err = cli(sim, "rules", "validate", "--in-cluster", str(rules))
    assert code == 1  # falcotui's own check (for 0.43.1) refuses
    assert f"  Falco 0.43.1 (pod {pod} on sim-node-01): valid   falcotui: INVALID   DISAGREE" in out
    assert f"warning: Falco 0.43.1 in pod {pod} loads the rules, but falcotui's check" in err

    code, out, err = cli(sim, "rules", "validate", "--in-cluster", "--json", str(rules))
    doc = json.loads(out)
    assert code == 1 and doc["falcotui"]["ok"] is False and doc["falcotui"]["falco_version"] == "0.43.1"
    [verdict] = doc["cluster"]
    assert (verdict["version"], verdict["pod"], verdict["ok"]) == ("0.43.1", pod, True)
    assert verdict["exit_code"] == 0 and verdict["errors"] == []
    assert verdict["falcotui_ok"] is False and verdict["disagrees"] is True and verdict["cleaned"] is True

    code, _, err = cli(sim, "rules", "validate", "--in-cluster", "--read-only", str(rules))
    assert code == 2 and "--read-only: --in-cluster copies the rules into a Falco pod's /tmp" in err
