"""The command palette's falcotui commands (`:` or ctrl+p): switch screen, namespace, demo scenario."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from falcotui.ui.alerts.nats_stream import COMMAND as NATS_COMMAND

SCREENS = (
    ("fleet", "Fleet", "F1"),
    ("alerts", "Alerts", "F2"),
    ("rules", "Rules", "F3"),
    ("deploy", "Deploy", "F4"),
)


class FalcoCommands(Provider):
    """Commands for the current app; scenario switching appears only in the demo."""

    def _commands(self) -> list[tuple[str, object, str]]:
        app = self.app
        out: list[tuple[str, object, str]] = []
        for mode, title, key in SCREENS:
            out.append(
                (f"Go to {title}", partial(app.run_action, f"switch_mode('{mode}')"), f"{key} · screen")
            )
        out.append(("Show keys (help)", app.action_help, "?"))
        out.append(("Response action log", app.action_action_log, "A · who did what, for which alert"))
        out.append(
            ("Incident report of the alerts", app.report_alerts, "e r on Alerts · HTML, Markdown, JSONL")
        )
        for text, query in (
            ("Alerts: Warning and worse", "priority>=warning"),
            ("Alerts: Critical and worse", "priority>=critical"),
            ("Alerts: clear the filter", ""),
        ):
            out.append((text, partial(app.show_alerts, query), "filter"))
        if getattr(app.services, "nats", None) is not None:
            out.append((NATS_COMMAND, app.offer_nats_stream, "NATS · shows its configuration, asks first"))
        out.append(("Switch Falco namespace…", app.ask_namespace, f"now {app.services.namespace}"))
        if len(app.contexts) > 1:
            following = app.clusters.names if app.clusters is not None else (app.services.context_name,)
            out.append(("ctx: clusters side by side…", app.ask_contexts, f"now {', '.join(following)}"))
        for name in app.contexts:
            if app.clusters is not None or name != app.services.context_name:
                out.append((f"Switch context: {name}", partial(app.reconnect, context=name), "context"))
        scenarios = getattr(app, "demo_scenarios", ())
        for name in scenarios:
            out.append((f"Demo: run scenario {name}", partial(app.set_demo_scenario, name), "demo"))
        return out

    async def discover(self) -> Hits:
        for text, callback, help_text in self._commands():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)
