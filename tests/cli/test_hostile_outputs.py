"""One hostile corpus through every output path (issue 13, finding 3): the CLI's text (alerts, status, API
error messages, a crash loop's last log lines in `restart`), its JSON (`alerts --json`, `status --json`),
the JSON lines export, and the TUI. Text never carries a raw control, escape sequence, bidi override,
zero-width character or lone surrogate; JSON escapes them and decodes back to exactly what came in.

The CLI runs as a real subprocess against the simulated cluster; hostile alerts are written into a Falco
pod's log the way its stdout would carry them; the crash loop is a real one (rules Falco rejects at start,
whose error quotes the hostile rule name)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from falcotui.falco.alerts import parse_json_alert
from falcotui.ops.alerts.store import AlertStore
from falcotui.ops.alerts.view import export_jsonl


def hostile_alert_line(node: str, corpus: str) -> str:
    obj = {
        "hostname": node,
        "output": f"12:00:00.000000000: Critical {corpus}",
        "output_fields": {"proc.cmdline": corpus, "evt.time": time.time_ns()},
        "priority": "Critical",
        "rule": f"Hostile {corpus}",
        "source": "syscall",
        "tags": [corpus],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
    }
    # As Falco writes it: C0 controls escaped by JSON, everything else raw UTF-8, the lone surrogate as the
    # escape a process writing invalid text would produce.
    return json.dumps(obj, ensure_ascii=False).replace("\udc80", "\\udc80")


def run(sim, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "falcotui", *argv, "--kubeconfig", str(sim.kubeconfig)],
                          capture_output=True, timeout=120)  # fmt: skip


@pytest.fixture
def hostile_sim(cli_sim, until, hostile):
    sim = cli_sim(nodes=1)
    pods = sim.clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]
    pod = next(p for p in pods if p["status"].get("phase") == "Running")
    name, node = pod["metadata"]["name"], pod["spec"]["nodeName"]
    line = hostile_alert_line(node, hostile.CORPUS)
    log = sim.cluster.call(lambda: sim.cluster.controllers.container_log("falco", name, "falco"))
    sim.cluster.call(lambda: log.append("stdout", line))
    until(lambda: any(a.rule.startswith("Hostile") for a in sim.alerts().values()), "the hostile alert")
    return sim, line


def test_alerts_text_and_json(hostile_sim, hostile) -> None:
    sim, line = hostile_sim
    text = run(sim, "alerts")
    assert text.returncode == 0, text.stderr
    out = text.stdout.decode("utf-8")
    assert "Hostile PWNED" in out and "MARKUP" in out and "END" in out  # shown, not dropped
    hostile.assert_clean(out, "alerts")
    hostile.assert_clean_bytes(text.stderr, "alerts stderr")

    js = run(sim, "alerts", "--json")
    assert js.returncode == 0, js.stderr
    hostile.assert_clean_bytes(js.stdout, "alerts --json")
    found = [json.loads(x) for x in js.stdout.splitlines() if b"Hostile" in x]
    assert len(found) == 1
    original = json.loads(line)
    for key in ("rule", "output", "tags"):
        assert found[0][key] == original[key], key  # faithful: escaped, never dropped or replaced
    assert found[0]["output_fields"]["proc.cmdline"] == hostile.CORPUS


def test_follow_json_passes_falcos_own_line_on_and_escapes_a_hostile_one(cli_sim, until, hostile) -> None:
    """`alerts -f --json` prints a JSON alert line as Falco wrote it with falcotui's keys added (not parsed
    and written again), but only a line a terminal cannot act on: a corpus orjson reads (no lone
    surrogate, so it takes that path) and a line with a raw tab and carriage return between its tokens
    are written escaped, faithful all the same."""
    sim = cli_sim(nodes=1)
    pods = sim.clients.request("GET", "/api/v1/namespaces/falco/pods")["items"]
    pod = next(p for p in pods if p["status"].get("phase") == "Running")
    name, node = pod["metadata"]["name"], pod["spec"]["nodeName"]
    corpus = hostile.CORPUS.replace("\udc80", "")
    plain = hostile_alert_line(node, "plain").replace("Hostile", "Plain")
    spaced = hostile_alert_line(node, "spaced").replace("Hostile", "Spaced").replace(', "', ',\t\r"')
    lines = {"Hostile": hostile_alert_line(node, corpus), "Plain": plain, "Spaced": spaced}
    log = sim.cluster.call(lambda: sim.cluster.controllers.container_log("falco", name, "falco"))
    for line in lines.values():
        sim.cluster.call(lambda line=line: log.append("stdout", line))
    proc = sim.popen("alerts", "-f", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got: dict[str, bytes] = {}

    def read() -> None:
        assert proc.stdout is not None
        for out in proc.stdout:
            rule = json.loads(out)["rule"].split(" ", 1)[0]
            if rule in lines:
                got[rule] = out

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        until(lambda: len(got) == 3, "the three alerts printed", timeout=60)
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    for rule, out in got.items():
        hostile.assert_clean_bytes(out, f"alerts -f --json ({rule})")
        assert b"\t" not in out and b"\r" not in out, rule
        printed, original = json.loads(out), json.loads(lines[rule])
        assert {printed.pop(k) for k in ("channel", "node", "pod")} == {"log", node, name}
        assert printed == original, rule  # every value as Falco wrote it, the corpus escaped, not dropped
    added = f',"channel":"log","node":"{node}","pod":"{name}"}}\n'.encode()
    assert got["Plain"] == lines["Plain"].encode()[:-1] + added, "Falco's own bytes, falcotui's keys added"


def test_export_file(hostile_sim, tmp_path, hostile) -> None:
    _sim, line = hostile_sim
    store = AlertStore()
    store.append(parse_json_alert(line, node="n", pod="p"))
    path = tmp_path / "export.jsonl"
    assert export_jsonl(store.since(0), path) == 1
    data = path.read_bytes()
    hostile.assert_clean_bytes(data, "export")
    assert json.loads(data)["rule"] == f"Hostile {hostile.CORPUS}"


def test_status_and_api_error_messages(hostile_sim, hostile) -> None:
    sim, _line = hostile_sim
    for argv in (("status",), ("status", "--json")):
        proc = run(sim, *argv)
        assert proc.returncode == 0, proc.stderr
        hostile.assert_clean_bytes(proc.stdout, " ".join(argv))
    # The API server quotes what it was asked for in its error messages.
    for command in ("status", "alerts", "status --json"):
        proc = run(sim, *command.split(), "--falco-namespace", hostile.CORPUS.replace("\udc80", ""))
        assert proc.returncode == 1
        err = proc.stderr.decode("utf-8")
        assert err.startswith("falcotui: error: ") and "PWNED" in err
        hostile.assert_clean(err, f"{command} error")


def test_crash_loop_log_lines_in_restart(cli_sim, hostile) -> None:
    sim = cli_sim(nodes=1)
    # A rule Falco rejects at start; its name (YAML escapes decode to real control characters) is quoted in
    # Falco's error, the crash-looping pod's last log lines.
    name = '"Hostile \\e]52;c;SGVsbG8=\\a\\e[2J\\x9b2J\\u202eevil\\u200b\\N[bold red]MARKUP[/] end"'
    rules = f"- rule: {name}\n  desc: d\n  condition: proc.nosuch = x\n  output: o\n  priority: WARNING\n"
    cm = sim.clients.request("GET", "/api/v1/namespaces/falco/configmaps/falco-rules")
    cm["data"] = {"custom-rules.yaml": rules}
    sim.clients.request("PUT", "/api/v1/namespaces/falco/configmaps/falco-rules", body=cm)
    proc = run(sim, "restart", "--timeout", "30", "--stuck-after", "3")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr.decode("utf-8")
    assert "CrashLoopBackOff" in err and "    | " in err
    assert "MARKUP" in err  # the hostile name is shown ...
    hostile.assert_clean(err, "restart stderr")  # ... with nothing a terminal would act on
    hostile.assert_clean_bytes(proc.stdout, "restart stdout")
