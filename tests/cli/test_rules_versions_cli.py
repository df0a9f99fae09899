"""`falcotui rules push` toward Falco 0.43.1 nodes (the gRPC profile): a rule only 0.44+ loads is refused
before anything is sent, with Falco 0.43's parse error and the version named; forced through, every
simulated 0.43.1 node rejects it on reload."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from simkit import MODIFIER_RULE
from test_rules_cmd_cluster import WAIT, cli, live_rules


def test_push_of_a_044_rule_to_043_nodes_is_refused_then_rejected_when_forced(
    falco_sim, clients_for, tmp_path
):
    sim = falco_sim(nodes=2)
    code, _, err = cli(sim, "apply", "--grpc", "--yes")
    assert code == 0, err
    clients = clients_for(sim)
    work = tmp_path / "rules"
    assert cli(sim, "rules", "pull", "-o", str(work))[0] == 0
    (work / "zz-modifiers.yaml").write_text(MODIFIER_RULE)
    before = live_rules(clients)["metadata"]["resourceVersion"]

    code, out, err = cli(sim, "rules", "push", str(work / "zz-modifiers.yaml"))
    assert code == 1 and "nothing was pushed" in err
    assert "error LOAD_ERR_COMPILE_CONDITION: unexpected token after 'oneof', expecting 'or', 'and'" in out
    assert "validated for Falco 0.43.1 (libs 0.23.2)" in out
    assert live_rules(clients)["metadata"]["resourceVersion"] == before

    code, out, err = cli(sim, "rules", "push", str(work / "zz-modifiers.yaml"), "--force", "--yes", *WAIT)
    assert code == 1, out + err
    assert out.rstrip().endswith("2 node(s): 2 rejected")
