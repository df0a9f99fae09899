"""`falcotui rules pull|push|history|rollback` against the simulated cluster's Falco pods (real HTTP, exec
and logs), through a parser built here: the files on disk, the resourceVersion marker, exit codes, the
per-node reload report, the conflict diff, the refusals."""

from __future__ import annotations

import io

import pytest
from simkit import NEW_RULE

from falcotui.cli import build_parser, rules_cluster_cmd
from falcotui.sim.falco.config import bundled_default_rules

BROKEN = "- rule: broken rule\n  desc: has no condition\n  output: x\n  priority: WARNING\n"
WAIT = ["--wait", "--timeout", "20", "--poll", "0.1"]


def cli(sim, *argv: str):
    args = build_parser().parse_args([*argv, "--kubeconfig", str(sim.kubeconfig)])
    out, err = io.StringIO(), io.StringIO()
    if args.handler in (rules_cluster_cmd.run_pull, rules_cluster_cmd.run_history):
        code = args.handler(args, out, err)
    else:
        code = args.handler(args, out, err, io.StringIO())
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def deployed(falco_sim):
    sim = falco_sim(nodes=2)
    code, _, err = cli(sim, "apply", "--yes")
    assert code == 0, err
    return sim


def live_rules(clients) -> dict:
    return clients.request("GET", "/api/v1/namespaces/falco/configmaps/falco-rules")


def test_pull_edit_push_wait_history_rollback(deployed, clients_for, tmp_path):
    sim, clients = deployed, clients_for(deployed)
    work = tmp_path / "rules"
    code, out, err = cli(sim, "rules", "pull", "-o", str(work))
    assert code == 0, err
    rv = live_rules(clients)["metadata"]["resourceVersion"]
    assert (work / ".falcotui-rv").read_text().strip() == rv
    defaults = work / ".falco-image" / "falco_rules.yaml"  # the image's rules, fetched read-only
    assert defaults.stat().st_mode & 0o777 == 0o444 and "read-only" in out
    assert "- macro: spawned_process" in defaults.read_text()
    original = (work / "custom-rules.yaml").read_text()
    assert original == live_rules(clients)["data"]["custom-rules.yaml"]

    (work / "custom-rules.yaml").write_text(original + NEW_RULE)
    code, out, err = cli(sim, "rules", "push", str(work), "-m", "netcat rule", *WAIT)
    assert code == 0, out + err
    assert "pushed as version 2" in out
    for node in ("sim-node-01", "sim-node-02"):
        assert f"{node} (falco-" in out and "reloaded: restarted with the new rules" in out
    assert out.rstrip().endswith("2 node(s): 2 reloaded")
    new_rv = live_rules(clients)["metadata"]["resourceVersion"]
    assert (work / ".falcotui-rv").read_text().strip() == new_rv  # the next push starts from here

    code, out, err = cli(sim, "rules", "history")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["VERSION", "TIME", "KIND", "AUTHOR", "MESSAGE"]
    assert lines[1].split()[0] == "1"
    assert "initial" in lines[1] and "the rules before the first push" in lines[1]
    assert lines[2].split()[0] == "2*" and "netcat rule" in lines[2]

    code, out, err = cli(sim, "rules", "rollback", *WAIT)
    assert code == 0, out + err
    assert "rolling back to version 1" in out and "2 node(s): 2 reloaded" in out
    assert live_rules(clients)["data"]["custom-rules.yaml"] == original
    code, out, _ = cli(sim, "rules", "history")
    assert "rollback to version 1" in out.splitlines()[3] and out.splitlines()[1].split()[0] == "1*"


def test_invalid_file_is_refused_then_forced_push_rejected_then_rolled_back(deployed, clients_for, tmp_path):
    sim, clients = deployed, clients_for(deployed)
    work = tmp_path / "rules"
    assert cli(sim, "rules", "pull", "-o", str(work))[0] == 0
    (work / "zz-broken.yaml").write_text(BROKEN)
    before = live_rules(clients)["metadata"]["resourceVersion"]
    code, out, err = cli(sim, "rules", "push", str(work / "zz-broken.yaml"))
    assert code == 1 and "nothing was pushed" in err
    assert "/etc/falco/rules.d/zz-broken.yaml:1:3: error LOAD_ERR_YAML_VALIDATE" in out
    assert live_rules(clients)["metadata"]["resourceVersion"] == before

    code, _, err = cli(sim, "rules", "push", str(work / "zz-broken.yaml"), "--force")
    assert code == 2 and "refusing without --yes" in err
    assert live_rules(clients)["metadata"]["resourceVersion"] == before

    code, out, err = cli(sim, "rules", "push", str(work / "zz-broken.yaml"), "--force", "--yes", *WAIT)
    assert code == 1
    assert "pushed (INVALID, forced)" in out
    assert out.count("rejected: Falco internal: hot restart failure") == 2
    assert out.rstrip().endswith("2 node(s): 2 rejected")

    code, out, err = cli(sim, "rules", "rollback", *WAIT)
    assert code == 0, out + err
    assert "zz-broken.yaml" not in live_rules(clients)["data"]
    assert "2 node(s): 2 reloaded" in out


def test_two_editors_the_second_gets_a_conflict_with_a_diff(deployed, clients_for, tmp_path):
    sim, clients = deployed, clients_for(deployed)
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    for d in (alice, bob):
        assert cli(sim, "rules", "pull", "-o", str(d))[0] == 0
    (alice / "custom-rules.yaml").write_text((alice / "custom-rules.yaml").read_text() + "# alice\n")
    (bob / "custom-rules.yaml").write_text((bob / "custom-rules.yaml").read_text() + "# bob\n")
    assert cli(sim, "rules", "push", str(alice))[0] == 0
    code, _, err = cli(sim, "rules", "push", str(bob))
    assert code == 1
    assert "conflict: the rules changed in the cluster since your edit started" in err
    assert "-# alice" in err and "+# bob" in err and "--- theirs/custom-rules.yaml" in err
    assert live_rules(clients)["data"]["custom-rules.yaml"].endswith("# alice\n")


def test_push_needs_a_base_version_and_warnings_need_force(deployed, clients_for, tmp_path):
    sim, clients = deployed, clients_for(deployed)
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "extra.yaml").write_text("- list: never_used\n  items: [a]\n")
    code, _, err = cli(sim, "rules", "push", str(loose / "extra.yaml"))
    assert code == 2 and "falcotui rules pull` first, or pass --rv" in err
    rv = live_rules(clients)["metadata"]["resourceVersion"]
    code, out, err = cli(sim, "rules", "push", str(loose / "extra.yaml"), "--rv", rv)
    assert code == 1 and "LOAD_UNUSED_LIST" in out and "--force-warnings pushes anyway" in err
    assert live_rules(clients)["metadata"]["resourceVersion"] == rv
    defaults = tmp_path / "falco_rules.yaml"  # validate offline, against a given default rules file
    defaults.write_text(bundled_default_rules())
    argv = ["--rv", rv, "--force-warnings", "--with", str(defaults)]
    code, out, err = cli(sim, "rules", "push", str(loose / "extra.yaml"), *argv)
    assert code == 0, err
    data = live_rules(clients)["data"]
    assert set(data) == {"custom-rules.yaml", "extra.yaml"}  # other keys are kept without --prune


def test_without_falco_the_errors_are_readable(falco_sim, tmp_path):
    sim = falco_sim(nodes=1)
    code, _, err = cli(sim, "rules", "pull", "-o", str(tmp_path / "x"))
    assert code == 1 and "deploy Falco first" in err
    code, out, _ = cli(sim, "rules", "history")
    assert code == 0 and "no history yet" in out


def test_after_a_conflict_pull_keeps_the_unpushed_edit(deployed, clients_for, tmp_path):
    """Issue 13 finding 5: the conflict says to pull; a pull into the edited directory must not
    overwrite the edit (it refuses; --backup keeps a copy and says where)."""
    sim, clients = deployed, clients_for(deployed)
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    for d in (alice, bob):
        assert cli(sim, "rules", "pull", "-o", str(d))[0] == 0
    (alice / "custom-rules.yaml").write_text((alice / "custom-rules.yaml").read_text() + "# alice\n")
    bobs = (bob / "custom-rules.yaml").read_text() + "# bob's unpushed work\n"
    (bob / "custom-rules.yaml").write_text(bobs)
    assert cli(sim, "rules", "push", str(alice))[0] == 0
    code, _, err = cli(sim, "rules", "push", str(bob))
    assert code == 1 and "rules pull -o OTHER_DIR" in err

    code, _, err = cli(sim, "rules", "pull", "-o", str(bob))
    assert code == 1
    assert "custom-rules.yaml: changed since the last pull or push; nothing was overwritten" in err
    assert (bob / "custom-rules.yaml").read_text() == bobs

    code, _, err = cli(sim, "rules", "pull", "-o", str(bob), "--backup")
    assert code == 0, err
    (kept,) = (bob / ".falcotui-backup").iterdir()
    assert f"kept in {kept}/" in err
    assert (kept / "custom-rules.yaml").read_text() == bobs
    assert (bob / "custom-rules.yaml").read_text().endswith("# alice\n")
    rv = live_rules(clients)["metadata"]["resourceVersion"]
    assert (bob / ".falcotui-rv").read_text().strip() == rv

    # an unchanged directory is refreshed without fuss, and a pushed edit is not "local" afterwards
    assert cli(sim, "rules", "pull", "-o", str(alice))[0] == 0
    (bob / "custom-rules.yaml").write_text((bob / "custom-rules.yaml").read_text() + "# bob again\n")
    assert cli(sim, "rules", "push", str(bob))[0] == 0
    code, _, err = cli(sim, "rules", "pull", "-o", str(bob))
    assert code == 0, err
    code, _, err = cli(sim, "rules", "pull", "-o", str(alice))
    assert code == 0, err and (alice / "custom-rules.yaml").read_text().endswith("# bob again\n")


def test_push_of_non_utf8_or_oversize_rules_is_a_clear_error(deployed, clients_for, tmp_path):
    """Issue 13 finding 7: no UnicodeDecodeError traceback; the byte offset and line are named."""
    sim, clients = deployed, clients_for(deployed)
    work = tmp_path / "rules"
    assert cli(sim, "rules", "pull", "-o", str(work))[0] == 0
    before = live_rules(clients)["metadata"]["resourceVersion"]
    (work / "zz-latin1.yaml").write_bytes(b"- list: caf\xe9_list\n  items: [a]\n")
    code, _, err = cli(sim, "rules", "push", str(work))
    assert code == 1
    assert f"{work / 'zz-latin1.yaml'}:1:12: not UTF-8: byte 0xe9 at byte offset 11" in err
    (work / "zz-latin1.yaml").unlink()
    (work / "zz-big.yaml").write_bytes(b"# " + b"x" * (1024 * 1024) + b"\n")
    code, _, err = cli(sim, "rules", "push", str(work))
    assert code == 1 and "cannot exceed 1048576 bytes (1 MiB)" in err
    assert live_rules(clients)["metadata"]["resourceVersion"] == before


class Terminal(io.StringIO):
    """What a person at a terminal types: `isatty()` is true."""

    def isatty(self) -> bool:
        return True


def cli_at_terminal(sim, answer: str, *argv: str):
    args = build_parser().parse_args([*argv, "--kubeconfig", str(sim.kubeconfig)])
    out, err = io.StringIO(), io.StringIO()
    code = args.handler(args, out, err, Terminal(answer))
    return code, out.getvalue(), err.getvalue()


def test_push_and_rollback_at_a_terminal_show_the_diff_and_ask(deployed, clients_for, tmp_path):
    """Issue 17 item 12: CLI push/rollback wrote with no diff and no prompt on a TTY."""
    sim, clients = deployed, clients_for(deployed)
    work = tmp_path / "rules"
    assert cli(sim, "rules", "pull", "-o", str(work))[0] == 0
    (work / "custom-rules.yaml").write_text((work / "custom-rules.yaml").read_text() + NEW_RULE)
    before = live_rules(clients)["metadata"]["resourceVersion"]

    code, out, err = cli_at_terminal(sim, "n\n", "rules", "push", str(work))
    assert code == 1 and "aborted, nothing pushed" in err
    assert "+- rule: Netcat started in container" in out and "--- cluster/custom-rules.yaml" in out
    assert "Push these rules to falco/falco-rules? [y/N]" in out
    assert live_rules(clients)["metadata"]["resourceVersion"] == before

    code, out, err = cli_at_terminal(sim, "y\n", "rules", "push", str(work))
    assert code == 0, err
    assert "Netcat started in container" in live_rules(clients)["data"]["custom-rules.yaml"]

    code, out, err = cli_at_terminal(sim, "n\n", "rules", "rollback")
    assert code == 1 and "-- rule: Netcat started in container" in out
    assert "Roll falco/falco-rules back to version 1? [y/N]" in out
    assert "Netcat started in container" in live_rules(clients)["data"]["custom-rules.yaml"]
    code, out, err = cli_at_terminal(sim, "y\n", "rules", "rollback")
    assert code == 0, err
    assert "Netcat started in container" not in live_rules(clients)["data"]["custom-rules.yaml"]
