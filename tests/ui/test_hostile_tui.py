"""The TUI end of the hostile corpus (issue 13, findings 3 and 6): an alert whose every field carries the
corpus arrives through the log path (lone surrogate escape included) and is shown with nothing a terminal
would act on, on the fleet, alerts and detail views; an oversize alert is kept, truncated with a marker;
lines that cannot be read are counted on the status line."""

from __future__ import annotations

import json

from falcotui.falco.alerts import MAX_LINE_LENGTH, format_iso8601_ns
from falcotui.ui.alerts.screen import AlertsScreen


def log_line(t_ns: int, output: str, rule: str, cmdline: str, tag: str) -> str:
    obj = {
        "hostname": "ip-10-0-1-11",
        "output": f"09:00:00.000000000: Critical {output}",
        "output_fields": {"evt.time": t_ns, "proc.cmdline": cmdline},
        "priority": "Critical",
        "rule": rule,
        "source": "syscall",
        "tags": [tag],
        "time": format_iso8601_ns(t_ns),
    }
    return json.dumps(obj, ensure_ascii=False).replace("\udc80", "\\udc80")


async def test_the_corpus_and_unreadable_lines_on_screen(frozen, shows, alert_bytes, hostile):
    CORPUS, assert_clean = hostile.CORPUS, hostile.assert_clean
    app = frozen()
    hub = app.frozen_engine.hub
    t = alert_bytes.NOW - 5 * alert_bytes.NS
    hub.ingest_log_line(
        "falco-a11", log_line(t, CORPUS, f"Hostile {CORPUS}", CORPUS, CORPUS), node="ip-10-0-1-11"
    )
    huge = "H" * (MAX_LINE_LENGTH + 10)
    hub.ingest_log_line("falco-a11", log_line(t + 1, huge, "Oversize alert", "x", "t"), node="ip-10-0-1-11")
    hub.ingest_log_line("falco-a11", '{"rule": "half a line', node="ip-10-0-1-11")
    hub.ingest_log_line("falco-a11", '{"output": "no rule or time"}', node="ip-10-0-1-11")
    rules = {e.alert.rule for e in hub.store}
    assert f"Hostile {CORPUS}" in rules and "Oversize alert" in rules  # neither was dropped
    async with app.run_test(size=(200, 40)) as pilot:
        # the status line (repainted on the app's tick) counts what could not be read
        text = await shows(pilot, app, where=lambda t: "unreadable 2" in t.splitlines()[0])
        assert_clean(text, "fleet screen")
        await pilot.press("f2")
        text = await shows(pilot, app, "Hostile PWNED", "Oversize alert")
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        assert_clean(text, "alerts screen")
        for rule in ("Oversize alert", "Hostile"):
            row = next(
                i
                for i, e in enumerate(await screen.alert_list.view.rows(0, len(screen.alert_list.view)))
                if e.alert.rule.startswith(rule)
            )
            screen.alert_list.cursor = row
            await pilot.press("enter")
            text = await shows(pilot, app, f"rule {rule}")  # the detail pane shows this alert
            assert_clean(text, f"detail of {rule}")
            await pilot.press("escape")
            await pilot.pause()
    oversize = next(e.alert for e in hub.store if e.alert.rule == "Oversize alert")
    assert oversize.output.endswith("more characters]") and "truncated by falcotui" in oversize.output
