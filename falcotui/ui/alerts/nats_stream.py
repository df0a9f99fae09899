"""The TUI's side of a missing JetStream stream (`--alerts-from nats://…`): a notice when the engine's NATS
channel finds no stream to read, and the offer to create it — the exact configuration in the app's
ConfirmDialog, created only on Confirm (never in read-only), from the command palette ("Create the NATS
JetStream stream…", which the notice names). The engine's channel looks for the stream every 2 s, so the
alerts start flowing on their own once it exists. While it is being created the app's reactive
`nats_creating` names it: the header says so, and a second offer is not made."""

from __future__ import annotations

from rich.text import Text

from falcotui.falco.sanitize import sanitize
from falcotui.ops.channels.nats_stream import StreamProblem, create_stream, plan_for
from falcotui.ui.widgets.dialogs import ConfirmDialog

COMMAND = "Create the NATS JetStream stream…"
NOTICE_S = 30


class NatsStreamOffer:
    """Remembers whether the missing stream was already announced, so the notice comes once per absence."""

    def __init__(self) -> None:
        self.announced = False

    def on_health(self, app, health) -> None:
        """After each tick: announce a stream that went missing (and forget once it is there again)."""
        nats = health.nats if health is not None else None
        if nats is None or not nats.missing:
            self.announced = False
            return
        if self.announced:
            return
        self.announced = True
        what = sanitize(nats.missing, max_len=300)
        where = sanitize(nats.servers, max_len=200)
        if not nats.stream_missing:  # a stream that does not capture our subject: never changed by us
            app.notify(f"{where}: {what}", title="NATS", severity="error", timeout=NOTICE_S, markup=False)
            return
        how = (
            "--read-only: falcotui will not create it"
            if app.read_only
            else f"to create it: ':' (command palette) → {COMMAND}"
        )
        app.notify(
            f"{where}: {what}, so Falcosidekick's alerts are not being kept; {how}",
            title="NATS stream missing",
            severity="warning",
            timeout=NOTICE_S,
            markup=False,
        )

    def offer(self, app) -> None:
        """The confirm dialog with the stream's exact configuration; on Confirm, create it."""
        source = app.services.nats
        health = app.health.nats if app.health is not None else None
        if source is None:
            app.notify("no NATS source (--alerts-from nats://…)", title="NATS", markup=False)
            return
        if health is None or not health.stream_missing:
            state = (
                "not checked yet" if health is None else (health.missing or f"stream {health.stream} is read")
            )
            app.notify(f"nothing to create: {sanitize(state, max_len=200)}", title="NATS", markup=False)
            return
        if app.read_only:
            app.notify(
                "--read-only: the stream is not created", title="NATS", severity="warning", markup=False
            )
            return
        if app.nats_creating:
            creating = sanitize(app.nats_creating, max_len=100)
            app.notify(f"stream {creating} is being created", title="NATS", markup=False)
            return
        plan = plan_for(source)
        where = sanitize(",".join(source.servers), max_len=200)
        body = Text(f"{where}: {sanitize(health.missing, max_len=300)}.\n\nfalcotui would create:\n\n")
        body.append(sanitize(plan.text(), max_len=4000, multiline=True))
        body.append("\nNothing is created unless you confirm. An existing stream is never changed.", "dim")

        def answered(yes: bool | None) -> None:
            if not yes:
                app.notify(f"stream {plan.name} not created", title="NATS", markup=False)
                return
            app.nats_creating = plan.name
            app.run_worker(self._create(app, source, plan), name="nats-create-stream", exit_on_error=False)

        title = f"Create JetStream stream {plan.name}?"
        app.push_screen(ConfirmDialog(title, body, confirm="Create stream"), answered)

    async def _create(self, app, source, plan) -> None:
        try:
            await create_stream(source, plan)
        except StreamProblem as exc:
            app.notify(sanitize(str(exc), max_len=400), title="NATS", severity="error", markup=False)
            return
        except Exception as exc:  # unreachable, timed out: said, nothing assumed created
            why = sanitize(str(exc) or type(exc).__name__, max_len=300)
            app.notify(f"stream {plan.name} not created: {why}", title="NATS", severity="error", markup=False)
            return
        finally:
            app.nats_creating = ""
        app.notify(f"created stream {plan.name} ({', '.join(plan.subjects)})", title="NATS", markup=False)
