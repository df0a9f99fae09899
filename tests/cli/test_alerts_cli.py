"""`falcotui alerts` as a real subprocess against simulated Falcos: the window read, filters, human and JSON
output, following through cut streams and an API server restart with both channels, and `| head -5`."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from falcotui.falco.alerts import Priority, dedup_key, parse_json_alert


def keys_of(lines: list[str]) -> list[bytes]:
    return [dedup_key(parse_json_alert(line)) for line in lines]


def test_alerts_prints_what_the_logs_hold_once_each_oldest_first(cli_sim, until, run_cli) -> None:
    sim = cli_sim(per_minute=600, nodes=3)
    until(lambda: len(sim.alerts()) >= 60, "alerts in the pods' logs")
    before = sim.alerts()
    code, out, err = run_cli(sim, "alerts", "--json")
    after = sim.alerts()
    assert code == 0, err
    lines = out.splitlines()
    keys = keys_of(lines)
    assert len(keys) == len(set(keys)), "an alert printed twice"
    assert before.keys() <= set(keys) <= after.keys()
    times = [json.loads(line)["time"] for line in lines]
    assert times == sorted(times)
    first = json.loads(lines[0])
    assert first["node"] in {"sim-cp-1", "sim-node-01", "sim-node-02"} and first["pod"].startswith("falco-")
    assert first["channel"] == "log" and first["hostname"] == first["node"]

    out = run_cli(sim, "alerts", "--json", "--min-priority", "warn", "--node", "sim-node-01")[1]
    picked = [json.loads(line) for line in out.splitlines()]
    assert picked and all(p["node"] == "sim-node-01" for p in picked)
    assert all(Priority.parse(p["priority"]) <= Priority.WARNING for p in picked)
    expected = [a for a in before.values() if a.node == "sim-node-01" and a.priority <= Priority.WARNING]
    assert len(picked) >= len(expected)

    code, out, err = run_cli(sim, "alerts", "--json", "--node", "01")  # a name's last part is enough
    short = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and short and {p["node"] for p in short} == {"sim-node-01"}
    assert "matches none" not in err
    code, out, err = run_cli(sim, "alerts", "--json", "--node", "07")
    assert code == 0 and out == ""
    assert "--node 07 matches none of the nodes running Falco (sim-cp-1, sim-node-01, sim-node-02)" in err

    human = run_cli(sim, "alerts", "--since", "1h", "--rule", "shell")[1]
    rows = human.splitlines()
    assert rows and all("shell" in row.split(" ", 3)[3].lower() for row in rows)
    assert "\x1b" not in human, "piped output is colourless"
    stamp, priority, node = rows[0].split()[:3]
    assert stamp.endswith("Z") and Priority.parse(priority) and node.startswith("sim-")


def test_bad_options_are_usage_errors_not_tracebacks(cli_sim, run_cli) -> None:
    sim = cli_sim(deploy=False, nodes=1)
    for args, message in (
        (("--min-priority", "loud"), "--min-priority: unknown priority 'loud'"),
        (("--channels", "log,syslog"), "--channels: unknown channel syslog"),
        (("--since", "yesterday"), "--since"),
    ):
        code, _out, err = run_cli(sim, "alerts", *args)
        assert code == 2, (args, err)
        assert err.startswith(f"falcotui: error: {message}") and "Traceback" not in err


def test_follow_prints_every_alert_once_through_cuts_an_api_restart_and_both_channels(cli_sim, until) -> None:
    sim = cli_sim(scenario="flaky", per_minute=600, cut_every=1.0, nodes=3, grpc=True)
    out_path = sim.kubeconfig.parent / "alerts.jsonl"
    with out_path.open("w") as out:
        proc = sim.popen("alerts", "-f", "--json", stdout=out, stderr=subprocess.PIPE, text=True)
    try:
        printed = lambda: out_path.read_text().splitlines()  # noqa: E731
        until(lambda: len(printed()) >= 60, "the first alerts", timeout=60)
        sim.cluster.restart_api_server()
        count = len(printed())
        until(lambda: len(printed()) >= count + 120, "alerts after the restart", timeout=60)

        # the channel printed is the one that brought the alert first: gRPC for a few in a hundred (the log
        # stream pushes each line, gRPC is asked every 0.25 s), so under load 180 alerts may hold none
        def channels() -> set[str]:  # of the whole lines so far (the last one may be half written)
            text = out_path.read_text()
            return {json.loads(line)["channel"] for line in text[: text.rfind("\n") + 1].splitlines()}

        until(lambda: channels() == {"log", "grpc"}, "an alert gRPC delivered first", timeout=90)
        cutoff = time.time_ns()
        expected = {k for k, a in sim.alerts().items() if a.time_ns <= cutoff}
        until(lambda: expected <= set(keys_of(printed())), "every alert up to the cut-off")
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    lines = printed()
    keys = keys_of(lines)
    assert len(keys) == len(set(keys)), "an alert printed twice"
    assert set(keys) <= sim.alerts().keys(), "an alert no pod log holds"
    channels = {json.loads(line)["channel"] for line in lines}
    assert channels == {"log", "grpc"}, "both channels delivered (each alert printed once all the same)"


def test_follow_into_head_exits_cleanly(cli_sim) -> None:
    sim = cli_sim(per_minute=600, nodes=2)
    producer = sim.popen("alerts", "-f", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-5"], stdin=producer.stdout, stdout=subprocess.PIPE)
    producer.stdout.close()  # only `head` holds the read end now, as in a shell pipeline
    got, _ = head.communicate(timeout=60)
    _out, err = producer.communicate(timeout=60)
    assert head.returncode == 0
    assert [json.loads(line)["rule"] for line in got.splitlines()], "five alerts reached head"
    assert len(got.splitlines()) == 5
    assert producer.returncode == 0, err.decode()
    assert err.decode() == "", "no traceback, no 'Exception ignored' on a closed pipe"


def test_follow_with_a_priority_filter_prints_exactly_the_matching_alerts_once(cli_sim, until) -> None:
    """`alerts -f --json --min-priority warning` (Falco's lines pass through the relay, which reads the
    priority off each line): every alert of Warning or more severe that the pods' logs hold, once, in
    Falco's own bytes with falcotui's keys; none less severe."""
    sim = cli_sim(per_minute=900, nodes=3)
    out_path = sim.kubeconfig.parent / "warnings.jsonl"
    with out_path.open("w") as out:
        proc = sim.popen(
            "alerts", "-f", "--json", "--min-priority", "warning", stdout=out, stderr=subprocess.PIPE
        )
    try:
        printed = lambda: out_path.read_text().splitlines()  # noqa: E731
        until(lambda: len(printed()) >= 40, "the first warnings", timeout=90)
        cutoff = time.time_ns()
        wanted = {
            k for k, a in sim.alerts().items() if a.time_ns <= cutoff and a.priority <= Priority.WARNING
        }
        until(lambda: wanted <= set(keys_of(printed())), "every warning up to the cut-off")
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = printed()
    alerts = [parse_json_alert(line) for line in lines]
    assert {a.priority for a in alerts} <= {p for p in Priority if p <= Priority.WARNING}
    assert (
        len({a.priority for a in sim.alerts().values()} - {a.priority for a in alerts}) > 0
    )  # some held back
    keys = keys_of(lines)
    assert len(keys) == len(set(keys)) and set(keys) <= sim.alerts().keys()
    assert all(json.loads(line)["channel"] == "log" and json.loads(line)["pod"] for line in lines)
