"""`python -m falcotui.cli.screenshots DIR`: SVG screenshots of every screen, taken from the demo cluster
(fixed seed, scenario and terminal size) by driving the app with keys, as `make screenshots` does."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("GRPC_VERBOSITY", "NONE")

SIZE = (140, 40)
SHOTS = (
    # (file name, keys pressed before the shot, seconds to let it settle)
    ("fleet", (), 0.5),
    ("node-detail", ("down", "down", "enter"), 1.0),
    ("alerts", ("escape", "f2"), 1.0),
    ("alert-detail", ("f", "up", "up", "enter"), 0.5),
    # response actions on that alert: the menu (each action enabled or disabled with its reason), the
    # confirmation of a quarantine with its exact change, then the action log once it ran
    ("respond", ("x",), 2.0),
    ("respond-confirm", ("down", "enter"), 2.0),
    ("action-log", ("right", "enter", "A"), 2.0),
    ("alerts-grouped", ("escape", "escape", "r"), 0.5),
    ("rules", ("f3",), 3.0),
    ("deploy", ("f4",), 3.0),
    ("help", ("f1", "question_mark"), 0.5),
    ("fleet-tiles", ("escape", "g"), 0.5),
)


async def take(out: Path, *, nodes: int = 8, seed: int = 7, warmup: float = 20.0) -> list[Path]:
    """Start the demo, wait until the fleet runs and alerts flow, save one SVG per entry of SHOTS."""
    from falcotui.cli.demo import FAST_TIMINGS, DemoCluster
    from falcotui.cli.tui_cmd import build_services
    from falcotui.ui.app import FalcoTuiApp

    demo = DemoCluster(
        nodes=nodes,
        scenario="incident",
        seed=seed,
        timings=dict(FAST_TIMINGS),
        problem_nodes=True,
        workloads=True,
    )
    await asyncio.to_thread(demo.start)
    from falcotui.ops.alerts.action_log import ENV_PATH

    # the shots quarantine a demo pod: that goes to the demo's own action log, not the user's
    os.environ[ENV_PATH] = str(Path(str(demo.kubeconfig)).parent / "actions.jsonl")
    saved: list[Path] = []
    try:
        services = build_services(
            demo.clients(), namespace="falco", read_only=False, context_name="demo", demo=True
        )
        app = FalcoTuiApp(services)
        async with app.run_test(size=SIZE) as pilot:
            deadline = time.monotonic() + warmup
            fleet = services.engine.fleet
            while time.monotonic() < deadline:
                rows = fleet.rows() if fleet.nodes else []
                running = sum(1 for r in rows if r.pod is not None and r.state.value == "running")
                if running >= nodes and len(services.engine.store) >= 200:
                    break
                await pilot.pause(0.25)
            for name, keys, settle in SHOTS:
                if keys:
                    await pilot.press(*keys)
                await pilot.pause(settle)
                path = out / f"{name}.svg"
                app.save_screenshot(filename=path.name, path=str(out))
                saved.append(path)
            saved.append(await _incluster_shot(app, pilot, demo, out))
    finally:
        await asyncio.to_thread(demo.stop)
    return saved


NETCAT_RULE = """
- rule: Netcat started in container
  desc: nc or ncat started in a container
  condition: spawned_process and container and proc.name in (nc, ncat)
  output: Netcat started (cmd=%proc.cmdline container=%container.name)
  priority: WARNING
"""


async def _incluster_shot(app, pilot, demo, out: Path) -> Path:
    """`rules-incluster.svg`: one node left on Falco 0.43.1, a rule added on the Rules screen, pushed with
    "validate with the cluster's own Falco first": each version's verdict beside falcotui's."""
    from textual.widgets import Button

    from falcotui.ui.rules.dialogs import PushDialog
    from falcotui.ui.rules.incluster_ui import InClusterDialog

    async def until(predicate, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > deadline:
                raise RuntimeError(f"screenshots: timed out waiting for {predicate}")
            await pilot.pause(0.1)

    def laid_out(cls) -> bool:
        return isinstance(app.screen, cls) and all(b.region for b in app.screen.query(Button))

    await asyncio.to_thread(demo.run_older_falco_on_one_node, "0.43.1")
    await pilot.press("escape", "f3")
    screen = app.screen
    await until(lambda: getattr(screen, "snapshot", None) is not None, 30)
    await pilot.pause(3.0)  # the fleet's rows carry the 0.43.1 pod's logged version
    editor = screen.editor()
    editor.focus()
    editor.move_cursor(editor.document.end)
    editor.insert(NETCAT_RULE)
    await pilot.pause()  # the editor's Changed message schedules the check
    await until(
        lambda: screen.modified and screen.linted_gen == screen.lint_gen and screen.check_action("push", ()),
        30,
    )
    await pilot.press("ctrl+u")
    await until(lambda: laid_out(PushDialog), 30)
    await pilot.click("#in-cluster")
    await pilot.click("#confirm")
    await until(lambda: laid_out(InClusterDialog), 90)
    await pilot.pause(0.5)
    path = out / "rules-incluster.svg"
    app.save_screenshot(filename=path.name, path=str(out))
    await pilot.press("escape")
    return path


async def take_clusters(out: Path, *, nodes: int = 4, seed: int = 7, warmup: float = 30.0) -> list[Path]:
    """Two demo clusters side by side (`falcotui --demo --clusters 2`): the fleet of fleets, the merged
    alerts, a response action's confirmation naming its cluster, and the fleet of fleets once one cluster's
    API server is gone."""
    import tempfile

    from falcotui.cli.demo import FAST_TIMINGS, DemoCluster, merged_kubeconfig
    from falcotui.cli.tui_clusters import DEMO_CLUSTERS, build_clusters
    from falcotui.kube.client import Timeouts, load_clients
    from falcotui.ops.alerts.action_log import ENV_PATH
    from falcotui.ops.alerts.query import parse_query
    from falcotui.ops.engine_worker import ConnectOptions
    from falcotui.ui.app import FalcoTuiApp

    names = DEMO_CLUSTERS[:2]
    demos = {n: DemoCluster(nodes=nodes, scenario="incident", seed=seed + i, timings=dict(FAST_TIMINGS),
                            workloads=True) for i, n in enumerate(names)}  # fmt: skip
    for demo in demos.values():
        await asyncio.to_thread(demo.start)
    workdir = Path(tempfile.mkdtemp(prefix="falcotui-shots-"))
    os.environ[ENV_PATH] = str(workdir / "actions.jsonl")
    kubeconfig = str(merged_kubeconfig({n: d.kubeconfig for n, d in demos.items()}, workdir / "kubeconfig"))
    timeouts = Timeouts(connect=1.0, read=10.0)
    saved: list[Path] = []

    def shot(app: FalcoTuiApp, name: str) -> None:
        app.save_screenshot(filename=f"{name}.svg", path=str(out))
        saved.append(out / f"{name}.svg")

    try:
        clusters = build_clusters(
            names,
            {n: load_clients(kubeconfig, n, timeouts=timeouts) for n in names},
            {n: ConnectOptions(kubeconfig, n, timeouts) for n in names},
            namespace="falco",
            read_only=False,
            demo=True,
        )
        app = FalcoTuiApp(clusters.services[names[0]], clusters=clusters, contexts=names)
        async with app.run_test(size=SIZE) as pilot:
            deadline = time.monotonic() + warmup
            while time.monotonic() < deadline:
                states = clusters.fleets.states
                if (
                    all(s.phase == "running" for s in states.values())
                    and len(clusters.fleets.merged.store) > 100
                ):
                    break
                await pilot.pause(0.25)
            await pilot.pause(1.5)
            shot(app, "clusters")
            await pilot.press("f2")
            await pilot.pause(1.5)
            shot(app, "clusters-alerts")
            app.screen.apply_query(parse_query(f"cluster:{names[1]} priority>=warning"))  # type: ignore[attr-defined]
            await pilot.pause(1.0)
            await pilot.press("f", "up", "enter", "x")
            await pilot.pause(2.0)
            await pilot.press("down", "enter")
            await pilot.pause(2.0)
            shot(app, "clusters-respond-confirm")
            await pilot.press("escape", "escape", "escape", "f1")
            await asyncio.to_thread(demos[names[1]].stop)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                health = clusters.services[names[1]].engine.health
                if health is not None and health.api_reachable is False:
                    break
                await pilot.pause(0.25)
            await pilot.pause(1.0)
            shot(app, "clusters-down")
    finally:
        for demo in demos.values():
            await asyncio.to_thread(demo.stop)
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m falcotui.cli.screenshots", description=__doc__)
    parser.add_argument("dir", type=Path, help="where to write the SVG files")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        args.dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"screenshots: cannot create {args.dir}: {exc}", file=sys.stderr)
        return 1
    for path in asyncio.run(take(args.dir, seed=args.seed)):
        print(path)
    for path in asyncio.run(take_clusters(args.dir, seed=args.seed)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
