"""The simulated Falco process on its own (no cluster): what it prints, how it loads and fails (reloads:
test_falco_reload.py)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson
import pytest
from falco_process import BROKEN, CONFIG, CUSTOM, LOG_TIME, alerts, base_files, ctx, start, stderr, until

from falcotui.falco.alerts import Priority, parse_iso8601_ns, parse_json_alert
from falcotui.falco.rules.loader import load_rules
from falcotui.sim.falco.config import bundled_default_rules, falco_image_version, image_files
from falcotui.sim.falco.runtime import FalcoRuntime
from falcotui.sim.falco.startup import run_falco_cli
from falcotui.sim.scenarios import make_scenario


async def test_startup_lines_follow_falcos_format_then_json_alerts(storm_runtime: FalcoRuntime) -> None:
    c = ctx(
        base_files(**{"/etc/falco/rules.d/b-custom.yaml": CUSTOM, "/etc/falco/rules.d/a-empty.yaml": "[]\n"})
    )
    handle = await start(storm_runtime, c)
    assert not handle.ready()  # nothing has run yet: the probes must not pass before startup
    await until(lambda: len(alerts(c.log)) >= 40, "40 alerts")
    assert handle.ready()
    assert all(LOG_TIME.match(r.text) for r in c.log.records() if r.stream == "stderr")
    assert stderr(c.log)[:15] == [
        "Falco version: 0.45.0 (x86_64)",
        "Falco initialized with configuration files:",
        "   /etc/falco-config/falco.yaml | schema validation: ok",
        "   /etc/falco/config.d/falco.container_plugin.yaml | schema validation: ok",
        "   /etc/falco/config.d/falco.iso8601_timeformat.yaml | schema validation: ok",
        "Loaded plugin 'container@0.7.1' from file /usr/share/falco/plugins/libcontainer.so",
        "Loading rules from:",
        "   /etc/falco/falco_rules.yaml | schema validation: ok",
        "   /etc/falco/rules.d/a-empty.yaml | schema validation: ok",
        "   /etc/falco/rules.d/b-custom.yaml | schema validation: ok",
        "Hostname value has been overridden via environment variable to: node-a",
        "Loaded event sources: syscall",
        "Enabled event sources: syscall",
        "Opening 'syscall' source with modern BPF probe.",
        "Starting health webserver with threadiness 2, listening on 0.0.0.0:8765",
    ]
    loaded = {r.name: r for r in handle.ruleset.rules}
    seen = set()
    for doc in alerts(c.log):
        alert = parse_json_alert(orjson.dumps(doc).decode())
        rule = loaded[alert.rule]
        seen.add(alert.rule)
        assert alert.hostname == "node-a" and alert.source == "syscall"
        assert alert.priority == Priority.parse(rule.priority)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", doc["time"])
        assert doc["output_fields"]["evt.time"] == parse_iso8601_ns(doc["time"])
        # time_format_iso_8601 comes from the image's config.d drop-in (formats.cpp: %evt.time.iso8601)
        assert doc["output"].startswith(f"{doc['time'][:-1]}+0000: {alert.priority.label} ")
        # suggested output (our falco.yaml's append_output) adds the container plugin's fields
        assert {"container.id", "container.name", "k8s.ns.name", "k8s.pod.name"} <= set(doc["output_fields"])
        assert " k8s_pod_name=" in doc["output"] and " container_image_repository=" in doc["output"]
        assert doc["tags"] == sorted(rule.tags)
        assert "<NA>" not in doc["output"].split(" | ")[0]
    assert len(seen) >= 4, seen  # drawn from several of the loaded rules
    await handle.stop()
    assert await handle.wait() == 137


async def test_custom_rule_output_is_rendered_with_plausible_values(storm_runtime: FalcoRuntime) -> None:
    c = ctx(base_files(**{"/etc/falco/rules.d/custom.yaml": CUSTOM}))
    handle = await start(storm_runtime, c)
    await until(lambda: any(a["rule"] == "Shell in payments pod" for a in alerts(c.log)), "the custom rule")
    doc = next(a for a in alerts(c.log) if a["rule"] == "Shell in payments pod")
    f = doc["output_fields"]
    assert set(f) == {"evt.time", "user.name", "k8s.pod.name", "proc.cmdline", "container.id",
                      "container.name", "container.image.repository", "container.image.tag",
                      "k8s.ns.name"}  # fmt: skip
    assert doc["output"].endswith(
        f"Shell in payments (user={f['user.name']} pod={f['k8s.pod.name']} cmd={f['proc.cmdline']}) "
        f"container_id={f['container.id']} container_name={f['container.name']} "
        f"container_image_repository={f['container.image.repository']} "
        f"container_image_tag={f['container.image.tag']} k8s_pod_name={f['k8s.pod.name']} "
        f"k8s_ns_name={f['k8s.ns.name']}"
    )
    assert re.fullmatch(r"[0-9a-f]{12}", f["container.id"])
    assert doc["priority"] == "Error" and doc["tags"] == ["payments", "shell"]
    await handle.stop()


@pytest.mark.parametrize(
    ("options", "stamp"),
    [
        # the image's config.d/falco.iso8601_timeformat.yaml sets time_format_iso_8601: true
        ([], r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+0000"),
        # -o is applied after every drop-in (configuration.cpp init_from_file)
        (["-o", "time_format_iso_8601=false"], r"\d\d:\d\d:\d\d\.\d{9}"),
    ],
)
async def test_text_output_when_json_output_is_false(options, stamp, storm_runtime: FalcoRuntime) -> None:
    files = base_files()
    files["/etc/falco-config/falco.yaml"] = CONFIG.replace("json_output: true", "json_output: false")
    c = ctx(files, args=["/usr/bin/falco", "-c", "/etc/falco-config/falco.yaml", *options])
    handle = await start(storm_runtime, c)
    out = lambda: [r.text for r in c.log.records() if r.stream == "stdout"]  # noqa: E731
    await until(lambda: len(out()) >= 10, "10 text alerts")
    names = "|".join(p.label for p in Priority)
    for line in out():
        assert re.match(rf"^{stamp}: ({names}) \S", line), line
        assert " container_id=" in line and " k8s_ns_name=" in line  # suggested output
    await handle.stop()


async def test_json_include_options_shape_the_alert(storm_runtime: FalcoRuntime) -> None:
    files = base_files()
    files["/etc/falco-config/falco.yaml"] = (
        CONFIG.replace("json_include_tags_property: true", "json_include_tags_property: false").replace(
            "json_include_output_fields_property: true", "json_include_output_fields_property: false"
        )
        + "json_include_message_property: true\n"
    )
    c = ctx(files)
    handle = await start(storm_runtime, c)
    await until(lambda: len(alerts(c.log)) >= 5, "5 alerts")
    for doc in alerts(c.log):
        assert "tags" not in doc and "output_fields" not in doc
        assert doc["output"].endswith(doc["message"]) and doc["message"] != doc["output"]
    await handle.stop()


async def test_invalid_rules_at_start_print_error_and_exit_1(storm_runtime: FalcoRuntime) -> None:
    c = ctx(base_files(**{"/etc/falco/rules.d/custom-rules.yaml": BROKEN}))
    handle = await start(storm_runtime, c)
    assert await asyncio.wait_for(handle.wait(), 30) == 1
    assert not handle.ready() and c.log.closed
    texts = [r.text for r in c.log.records()]
    assert not any(r.stream == "stdout" for r in c.log.records())
    i = texts.index("Error: /etc/falco/rules.d/custom-rules.yaml: Invalid")
    assert LOG_TIME.sub("", texts[i - 1]) == "   /etc/falco/rules.d/custom-rules.yaml | schema validation: ok"
    assert texts[i + 1 : i + 4] == [
        "1 Errors:",
        "In rules content: (/etc/falco/rules.d/custom-rules.yaml:0:0)",
        "    rule 'Suspicious shell in container': (/etc/falco/rules.d/custom-rules.yaml:0:2)",
    ]
    assert any(t.startswith("LOAD_ERR_COMPILE_CONDITION (Error compiling condition): ") for t in texts[i:])


async def test_official_default_rules_as_the_image_file(shared_data: Path) -> None:
    rt = FalcoRuntime(
        make_scenario("storm", rate=300, seed=3),
        default_rules=(shared_data / "falco_rules.yaml").read_text(),
        tick=0.02,
    )
    c = ctx(base_files())
    handle = await rt.start(c)
    await until(lambda: len(alerts(c.log)) >= 30, "30 alerts")
    official = {r.name for r in handle.ruleset.rules if r.enabled}
    assert len(handle.ruleset.rules) == 25
    assert {a["rule"] for a in alerts(c.log)} <= official
    await handle.stop()


async def test_043_without_unbuffered_flag_flushes_stdout_in_blocks(storm_runtime: FalcoRuntime) -> None:
    c = ctx(base_files(), image="falcosecurity/falco:0.43.1")
    handle = await start(storm_runtime, c)
    out = lambda: [r for r in c.log.records() if r.stream == "stdout"]  # noqa: E731
    await until(lambda: out(), "the first flush")
    flushes: dict[int, list[str]] = {}
    for r in out():
        flushes.setdefault(r.time_ns, []).append(r.text)
    for lines in flushes.values():  # stdout reaches the log a pipe buffer at a time
        assert len(lines) > 1 and sum(len(t) + 1 for t in lines) >= 4096
    await handle.stop()


async def test_044_rejects_grpc_keys_in_schema_and_runs_no_server(storm_runtime: FalcoRuntime) -> None:
    files = base_files()
    files["/etc/falco-config/falco.yaml"] = CONFIG + "grpc: {enabled: true, bind_address: '0.0.0.0:5060'}\n"
    c = ctx(files, image="docker.io/falcosecurity/falco:0.44.1")
    handle = await start(storm_runtime, c)
    await until(lambda: len(alerts(c.log)) >= 1, "an alert")
    assert stderr(c.log)[2] == (
        "   /etc/falco-config/falco.yaml | schema validation: failed for <root>: Object contains a property "
        "that could not be validated using 'properties' or 'additionalProperties' constraints: 'grpc'."
    )
    assert not any("gRPC" in line for line in stderr(c.log))
    assert storm_runtime.port_target("falco", "falco-x7k2p", 5060) is None
    await handle.stop()


@pytest.mark.parametrize(
    ("files", "args", "expected"),
    [
        ({}, None, "Error: Could not find configuration file at /etc/falco-config/falco.yaml"),
        (base_files(), ["falco", "-c", "/etc/falco-config/falco.yaml", "--frobnicate"],
         "Error: Error parsing options: Option 'frobnicate' does not exist"),
        # configuration.cpp load_yaml drops rules_files entries that do not exist
        ({"/etc/falco-config/falco.yaml": CONFIG.replace("/etc/falco/falco_rules.yaml, /etc/falco/rules.d",
                                                         "/etc/falco/missing.yaml")}, None,
         "Error: You must specify at least one rules file/directory via -r or a rules_file entry in falco"),
        (base_files(), ["falco", "-c", "/etc/falco-config/falco.yaml", "-r", "/etc/falco/missing.yaml"],
         "Error: Could not read rules file /etc/falco/missing.yaml: No such file or directory"),
        # the image's drop-in says load_plugins: [container]; the image's falco.yaml (which defines the
        # plugin) is replaced by this one (configuration.cpp load_yaml)
        ({"/etc/falco-config/falco.yaml": "config_files: [/etc/falco/config.d]\nrules_files: [/etc/falco]\n"},
         None, "Error: Cannot load plugin 'container': plugin config not found for given name"),
        # no plugin loaded, but the default rules require the container plugin (load_rules_files.cpp)
        ({"/etc/falco-config/falco.yaml": "rules_files: [/etc/falco/falco_rules.yaml]\n"}, None,
         "Error: Plugin requirement not satisfied, must load one of: container (>= 0.4.0)"),
        ({"/etc/falco-config/falco.yaml": "json_output: [unclosed\n"}, None,
         "Error: Cannot read config file (/etc/falco-config/falco.yaml): "),
        ({"/etc/falco-config/falco.yaml": "json_output: true\n"}, None,
         "Error: You must specify at least one rules file/directory via -r or a rules_file entry"),
    ],
)  # fmt: skip
async def test_bad_command_line_or_config_exits_1(files, args, expected, storm_runtime: FalcoRuntime) -> None:
    c = ctx(files, args=args)
    handle = await start(storm_runtime, c)
    assert await asyncio.wait_for(handle.wait(), 30) == 1
    assert any(r.text.startswith(expected) for r in c.log.records()), [r.text for r in c.log.records()]


def test_image_versions() -> None:
    assert falco_image_version("falcosecurity/falco:0.43.1").has_grpc
    assert not falco_image_version("docker.io/falcosecurity/falco:0.45.0").has_grpc
    assert falco_image_version("falcosecurity/falco-no-driver:0.45.0") is None
    assert falco_image_version("nginx:1.27") is None


def test_falco_cli_validate_text_and_json() -> None:
    version = falco_image_version("falcosecurity/falco:0.45.0")
    ok = CUSTOM.replace("spawned_process and container and", "evt.type = execve and")
    files = {**image_files(version), "/etc/falco/rules.d/bad.yaml": BROKEN, "/etc/falco/rules.d/ok.yaml": ok}
    code, out, err = run_falco_cli(version, files, ["falco", "-V", "/etc/falco/rules.d/bad.yaml"])
    assert code == 1 and out.startswith("/etc/falco/rules.d/bad.yaml: Invalid\n1 Errors:\n")
    assert "Validating rules file(s):" in err
    # -V loads the image's falco.yaml first (app.cpp action order), whose config.d drop-in turns on ISO times
    assert "Falco initialized with configuration files:" in err and "Loaded plugin 'container@0.7.1'" in err
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000: Falco version: 0.45.0", err)
    assert run_falco_cli(version, {}, ["falco", "-V", "/x.yaml"])[2] == (
        "Error: You must create a config file at /etc/falco/falco.yaml or by passing -c\n"
    )
    code, out, _ = run_falco_cli(
        version, files, ["falco", "-V", "/etc/falco/rules.d/ok.yaml", "-o", "json_output=true"]
    )
    doc = orjson.loads(out)
    assert code == 0
    assert doc["falco_load_results"][0]["name"] == "/etc/falco/rules.d/ok.yaml"
    assert doc["falco_load_results"][0]["successful"] is True
    code, out, _ = run_falco_cli(version, files, ["falco", "--version"])
    assert code == 0 and out.startswith("Falco version: 0.45.0\n")


def test_bundled_default_rules_load_clean_in_the_projects_validator() -> None:
    ours = load_rules([("/etc/falco/falco_rules.yaml", bundled_default_rules())])
    assert ours.successful and ours.errors == [] and ours.warnings == [] and ours.lints == []
    names = {r.name for r in ours.rules}
    assert len(names) >= 8 and {"Terminal shell in container", "Read sensitive file untrusted"} <= names


async def test_priority_floor_and_rules_section_limit_what_fires(storm_runtime: FalcoRuntime) -> None:
    files = base_files(**{"/etc/falco/rules.d/custom.yaml": CUSTOM})
    files["/etc/falco-config/falco.yaml"] = CONFIG + (
        "priority: warning\n"
        "rules:\n  - disable:\n      rule: Read sensitive*\n  - disable:\n      tag: payments\n"
    )
    c = ctx(files)
    handle = await start(storm_runtime, c)
    await until(lambda: len(alerts(c.log)) >= 60, "60 alerts")
    fired = {a["rule"] for a in alerts(c.log)}
    # load_rules_files.cpp logs each selection after the rules loaded
    assert ["Disabling rules with name: Read sensitive*", "Disabling rules with tag: payments"] == [
        line for line in stderr(c.log) if line.startswith("Disabling rules")
    ]
    assert {a["priority"] for a in alerts(c.log)} <= {"Emergency", "Alert", "Critical", "Error", "Warning"}
    assert "Read sensitive file untrusted" not in fired and "Shell in payments pod" not in fired
    assert fired  # the remaining Warning-or-worse rules still fire
    await handle.stop()


async def test_a_configmap_mounted_over_etc_falco_hides_the_images_rules(storm_runtime: FalcoRuntime) -> None:
    # the seed guide's mistake: its ConfigMap (falco.yaml only) shadows the whole /etc/falco directory
    c = ctx({"/etc/falco/falco.yaml": CONFIG}, args=["/usr/bin/falco"])
    handle = await start(storm_runtime, c)
    assert await asyncio.wait_for(handle.wait(), 30) == 1
    texts = [r.text for r in c.log.records()]
    # both rules_files entries are hidden, so Falco drops them (configuration.cpp load_yaml)
    assert (
        "Error: You must specify at least one rules file/directory via -r or a rules_file entry in falco.yaml"
        in texts
    )
    assert not any("falco.container_plugin.yaml" in t for t in texts)  # config.d is hidden too


async def test_the_seed_guides_outputs_key_fails_schema_validation(storm_runtime: FalcoRuntime) -> None:
    # `outputs:` (the seed guide's) is not a Falco key; the schema check says so and Falco runs on.
    c = ctx(base_files(**{"/etc/falco-config/falco.yaml": CONFIG + "outputs:\n  - output: json_output\n"}))
    handle = await start(storm_runtime, c)
    await until(lambda: len(alerts(c.log)) >= 1, "an alert")
    line = next(t for t in stderr(c.log) if "/etc/falco-config/falco.yaml | schema validation" in t)
    assert line.endswith(
        "schema validation: failed for <root>: Object contains a property that could not be "
        "validated using 'properties' or 'additionalProperties' constraints: 'outputs'."
    )
    await handle.stop()
