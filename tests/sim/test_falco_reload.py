"""The simulated Falco process on its own (no cluster): how it hot-reloads when its mounted files change,
refuses a broken change with an internal alert, and ignores changes it does not watch."""

from __future__ import annotations

from falco_process import BROKEN, CONFIG, CUSTOM, alerts, base_files, ctx, start, stderr, until

from falcotui.sim.falco.runtime import FalcoRuntime


async def test_valid_rules_change_restarts_with_new_rules(storm_runtime: FalcoRuntime) -> None:
    c = ctx(base_files())
    handle = await start(storm_runtime, c)
    await until(lambda: len(alerts(c.log)) >= 5, "first alerts")
    assert not any(a["rule"] == "Shell in payments pod" for a in alerts(c.log))
    handle.files_changed(base_files(**{"/etc/falco/rules.d/custom.yaml": CUSTOM}))
    await until(
        lambda: any(a["rule"] == "Shell in payments pod" for a in alerts(c.log)), "the new rule firing"
    )
    lines = stderr(c.log)
    restart = lines.index("SIGHUP received, restarting...")
    assert lines[restart + 1] == "Falco version: 0.45.0 (x86_64)"
    assert "   /etc/falco/rules.d/custom.yaml | schema validation: ok" in lines[restart:]
    assert handle.reloads == 1 and handle.ready()
    await handle.stop()


async def test_invalid_rules_change_keeps_old_rules_and_emits_internal_alert(
    storm_runtime: FalcoRuntime,
) -> None:
    c = ctx(base_files(**{"/etc/falco/rules.d/custom.yaml": CUSTOM}))
    handle = await start(storm_runtime, c)
    await until(lambda: len(alerts(c.log)) >= 5, "first alerts")
    handle.files_changed(base_files(**{"/etc/falco/rules.d/custom.yaml": BROKEN}))
    internal = lambda: [a for a in alerts(c.log) if a["source"] == "internal"]  # noqa: E731
    await until(lambda: internal(), "the hot restart failure alert")
    doc = internal()[0]
    assert doc["rule"] == "Falco internal: hot restart failure" and doc["priority"] == "Critical"
    assert doc["output"].startswith(
        "Falco internal: hot restart failure: /etc/falco/rules.d/custom.yaml: Invalid\n1 Errors:\n"
    )
    assert "LOAD_ERR_COMPILE_CONDITION" in doc["output"] and doc["output_fields"] == {}
    # handle_msg's fixed keys, whatever json_include_* say (falco_outputs.cpp): no message, no tags
    assert set(doc) == {"hostname", "output", "output_fields", "priority", "rule", "source", "time"}
    before = len(alerts(c.log))
    await until(lambda: len(alerts(c.log)) >= before + 10, "alerts after the refused reload")
    assert "SIGHUP received, restarting..." not in stderr(c.log)
    assert handle.ready() and handle.reloads == 0
    # the old custom rule is still loaded and firing
    await until(lambda: any(a["rule"] == "Shell in payments pod" for a in alerts(c.log)[before:]), "old rule")
    assert "Suspicious shell in container" not in {a["rule"] for a in alerts(c.log)}
    # like inotify, only a change fires: another volume updating leaves the broken file alone
    handle.files_changed(base_files(**{"/etc/falco/rules.d/custom.yaml": BROKEN, "/etc/other/key": "x"}))
    count = len(alerts(c.log))
    await until(lambda: len(alerts(c.log)) > count + 10, "more alerts")
    assert len(internal()) == 1
    await handle.stop()


async def test_changes_falco_does_not_watch_do_not_reload(storm_runtime: FalcoRuntime) -> None:
    files = base_files()
    files["/etc/falco-config/falco.yaml"] = CONFIG.replace(
        "watch_config_files: true", "watch_config_files: false"
    )
    c = ctx(files)
    handle = await start(storm_runtime, c)
    await until(lambda: len(alerts(c.log)) >= 3, "first alerts")
    handle.files_changed({**files, "/etc/falco/rules.d/custom.yaml": BROKEN})
    watched = base_files()
    c2 = ctx(watched)
    handle2 = await start(storm_runtime, c2)
    await until(lambda: len(alerts(c2.log)) >= 3, "first alerts")
    handle2.files_changed({**watched, "/etc/unrelated/key": "value"})
    n1, n2 = len(alerts(c.log)), len(alerts(c2.log))
    await until(lambda: len(alerts(c.log)) > n1 + 5 and len(alerts(c2.log)) > n2 + 5, "more alerts")
    assert "SIGHUP received, restarting..." not in stderr(c.log) + stderr(c2.log)
    assert not any(a["source"] == "internal" for a in alerts(c.log) + alerts(c2.log))
    await handle.stop()
    await handle2.stop()
