"""The Deploy screen against the simulated cluster, driven with keys: deploy from zero (dry-run diff,
confirm, rollout to every node), a restart that gets stuck on a crash loop (reason and last log lines
shown), the gRPC profile toggle and uninstall with confirmation, and read-only mode on both screens."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from pilot_waits import ready, wait_for
from rules_fixtures import ScreenApp, deploy, services_for

from falcotui.sim.config import NodeSpec
from falcotui.ui.deploy.screen import DeployScreen
from falcotui.ui.deploy.widgets import ManifestTable, RolloutPanel
from falcotui.ui.rules.dialogs import HistoryDialog
from falcotui.ui.rules.screen import RulesScreen
from falcotui.ui.widgets.dialogs import ConfirmDialog

pytestmark = pytest.mark.timeout(120)


def fast_screen() -> DeployScreen:
    screen = DeployScreen()
    screen.rollout_timeout = 40
    screen.stuck_grace = 1.5
    screen.uninstall_timeout = 30
    return screen


def statuses(screen: DeployScreen) -> dict[str, str]:
    return {c.ref: c.status for c in screen.plan.changes}


async def planned(pilot, screen: DeployScreen) -> None:
    await pilot.pause()
    await wait_for(pilot, lambda: screen.plan is not None and not screen.planning and not screen.busy)


async def test_deploy_from_zero_rolls_out_to_every_node(falco_sim, clients_for):
    sim = falco_sim(nodes=3, per_minute=6, ready_delay=0.3)
    app = ScreenApp(services_for(clients_for(sim)), fast_screen)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await planned(pilot, screen)
        assert set(statuses(screen).values()) == {"created"}
        assert "DaemonSet falco/falco" in statuses(screen)
        diff = str(screen.query_one("#deploy-diff").render())
        assert "Namespace falco" in diff and "+kind: Namespace" in diff
        assert screen.check_action("apply", ()) is True

        await pilot.press("a")
        dialog = await wait_for(pilot, lambda: ready(app.screen, ConfirmDialog))
        assert "+ DaemonSet falco/falco  created" in dialog.body.plain
        assert "falcosecurity/falco:0.45.0" in dialog.body.plain
        await pilot.click("#confirm")

        panel = screen.query_one(RolloutPanel)
        seen: list[tuple[int, int]] = []

        def progress():
            if panel.status is not None and panel.status.exists:
                point = (panel.status.updated, panel.status.available)
                if not seen or seen[-1] != point:
                    seen.append(point)
            return panel.outcome

        result = await wait_for(pilot, progress, tries=800)
        assert result.done, result.explain()
        assert seen[-1] == (3, 3) and seen == sorted(seen)  # counts only ever went up
        assert "3/3 updated · 3 available" in panel.bar_text and "✓ rolled out" in panel.bar_text
        assert {n.state for n in panel.status.nodes} == {"ready"} and len(panel.status.nodes) == 3
        # the dry-run again: nothing left to apply, the user's rules ConfigMap is kept
        await wait_for(
            pilot, lambda: not screen.planning and set(statuses(screen).values()) <= {"unchanged", "kept"}
        )
        assert statuses(screen)["ConfigMap falco/falco-rules"] == "kept"
        assert screen.check_action("apply", ()) is None


async def test_restart_stuck_on_a_crash_loop_shows_reason_and_last_log_lines(falco_sim, clients_for):
    sim = falco_sim(nodes=1, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    # broken rules pushed behind falcotui's back: the running pod keeps its rules, a new one cannot start
    other = k8s_client.CoreV1Api(k8s_config.new_client_from_config(config_file=str(sim.kubeconfig)))
    cm = other.read_namespaced_config_map("falco-rules", "falco")
    cm.data = {"custom-rules.yaml": "- rule: broken\n  desc: no condition\n  priority: WARNING\n"}
    other.replace_namespaced_config_map("falco-rules", "falco", cm)

    app = ScreenApp(services_for(clients), fast_screen)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await planned(pilot, screen)
        panel = screen.query_one(RolloutPanel)
        await wait_for(pilot, lambda: panel.outcome is not None)  # the current state: rolled out
        assert panel.outcome.done

        await pilot.press("r")
        dialog = await wait_for(pilot, lambda: ready(app.screen, ConfirmDialog))
        assert dialog.focused is not None and dialog.focused.id == "cancel"  # a restart is not the default
        assert "context " in dialog.body.plain and "namespace falco" in dialog.body.plain
        await pilot.click("#confirm")
        await wait_for(
            pilot, lambda: panel.outcome is not None and panel.note.startswith("restart"), tries=200
        )
        result = await wait_for(pilot, lambda: panel.outcome, tries=800)
        assert not result.done
        (stuck,) = result.stuck
        assert stuck.reason == "CrashLoopBackOff"
        assert "stuck: sim-node-01 CrashLoopBackOff" in panel.bar_text
        explained = str(screen.query_one("#rollout-explain-text").render())
        assert "✗ sim-node-01  CrashLoopBackOff" in explained
        assert any(line in explained for line in stuck.last_lines if "Error:" in line)


async def test_grpc_profile_and_uninstall_with_confirmation(falco_sim, clients_for):
    sim = falco_sim(nodes=1, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    app = ScreenApp(services_for(clients), fast_screen)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await planned(pilot, screen)
        await pilot.press("p")
        await planned(pilot, screen)
        assert screen.plan.grpc and "falcosecurity/falco:0.43.1" == screen.plan.image
        assert statuses(screen)["Secret falco/falco-grpc-server"] == "created"
        assert statuses(screen)["DaemonSet falco/falco"] == "changed"
        assert screen.query_one("#deploy-manifests-pane").border_title == "manifests (gRPC profile)"
        status = str(screen.query_one("#deploy-status").render())
        assert (
            "gRPC profile: runs falcosecurity/falco:0.43.1 — an older Falco than the default 0.45.0" in status
        )
        table = screen.query_one(ManifestTable)
        table.focus()
        table.move_cursor(row=[*table.changes].index("DaemonSet falco/falco"))
        await pilot.pause()
        diff = str(screen.query_one("#deploy-diff").render())
        assert "-        image: falcosecurity/falco:0.45.0" in diff.replace("\u00a0", " ")
        await pilot.press("p")
        await planned(pilot, screen)
        assert not screen.plan.grpc and not screen.plan.pending

        await pilot.press("x")
        dialog = await wait_for(pilot, lambda: ready(app.screen, ConfirmDialog))
        assert "DaemonSet falco" in dialog.body.plain and "rules ConfigMap" in dialog.body.plain
        await pilot.press("escape")  # cancelled: nothing happens
        assert not isinstance(app.screen, ConfirmDialog) and not screen.busy
        await pilot.press("x")
        await wait_for(pilot, lambda: ready(app.screen, ConfirmDialog))
        await pilot.click("#confirm")
        panel = screen.query_one(RolloutPanel)
        await wait_for(pilot, lambda: "uninstalled" in panel.note, tries=800)
        # issue 17 item 9: no stale "✓ rolled out 1/1" after the uninstall, and no forbidden dry run into a
        # namespace still terminating: the uninstall ends when the namespace is gone, then it plans once
        assert "rolled out" not in panel.bar_text and "uninstalled" in panel.bar_text
        assert not panel.query_one("#rollout-nodes").row_count
        await wait_for(pilot, lambda: not screen.planning and screen.plan is not None, tries=800)
        assert not screen.plan_error
        assert set(statuses(screen).values()) == {"created"}


async def test_read_only_offers_no_write_action(falco_sim, clients_for):
    sim = falco_sim(nodes=1, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    services = services_for(clients, read_only=True)

    app = ScreenApp(services, fast_screen)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        # No plan: it is a server-side dry run, authorized as `patch` (the viewer role has no patch).
        await wait_for(pilot, lambda: screen.plan_error.startswith("read-only: planning is a server-side"))
        assert screen.plan is None
        offered = {b.binding.action for b in screen.active_bindings.values()}
        assert {"profile", "plan", "watch"} <= offered
        assert not offered & {"apply", "restart", "uninstall"}
        for key in "arx":
            await pilot.press(key)
            assert app.screen is screen
        assert "read-only: apply, restart and uninstall are disabled" in str(
            screen.query_one("#deploy-status").render()
        )

    app = ScreenApp(services, RulesScreen)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.snapshot is not None and screen.linted_gen == screen.lint_gen)
        screen.editor().insert("# local experiment\n")
        await pilot.pause()
        offered = {b.binding.action for b in screen.active_bindings.values()}
        assert {"check", "diff", "history"} <= offered
        assert not offered & {"push", "rollback"}
        for key in ("ctrl+u", "ctrl+b"):
            await pilot.press(key)
            assert app.screen is screen
        assert "read-only: push and roll back are disabled" in screen.status_text
        await pilot.press("ctrl+r")
        history = await wait_for(pilot, lambda: ready(app.screen, HistoryDialog))
        assert not history.query("#rollback")


async def test_deploy_names_the_perf_event_paranoid_node_and_the_ways_out(falco_sim, clients_for):
    sim = falco_sim(nodes=1, per_minute=6, extra_nodes=[NodeSpec("ubuntu-1", perf_event_paranoid=4)])
    app = ScreenApp(services_for(clients_for(sim)), fast_screen)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await planned(pilot, screen)
        await pilot.press("a")
        await wait_for(pilot, lambda: ready(app.screen, ConfirmDialog))
        await pilot.click("#confirm")
        panel = screen.query_one(RolloutPanel)
        result = await wait_for(pilot, lambda: panel.outcome, tries=800)
        assert not result.done
        (stuck,) = result.stuck
        assert stuck.node == "ubuntu-1" and stuck.problem is not None
        explained = str(screen.query_one("#rollout-explain-text").render())
        assert "why: kernel.perf_event_paranoid > 2: modern_ebpf needs CAP_SYS_ADMIN" in explained
        assert "fix: set kernel.perf_event_paranoid=2 on the node" in explained
        assert "falcotui apply --privileged" in explained

        # the way out from the screen itself: P re-plans with Falco privileged, and that rollout completes
        await pilot.press("P")
        await planned(pilot, screen)
        assert (
            screen.query_one("#deploy-manifests-pane").border_title
            == "manifests (default profile · privileged)"
        )
        assert statuses(screen)["DaemonSet falco/falco"] == "changed"
        table = screen.query_one(ManifestTable)
        table.focus()
        table.move_cursor(row=[*table.changes].index("DaemonSet falco/falco"))
        await pilot.pause()
        assert "+          privileged: true" in str(screen.query_one("#deploy-diff").render()).replace(
            "\u00a0", " "
        )
        await pilot.press("a")
        await wait_for(pilot, lambda: ready(app.screen, ConfirmDialog))
        await pilot.click("#confirm")
        result = await wait_for(
            pilot, lambda: panel.outcome if panel.outcome is not result else None, tries=800
        )
        assert result.done and not result.stuck, result.explain()
        pods = clients_for(sim).request("GET", "/api/v1/namespaces/falco/pods")["items"]
        assert {p["spec"]["nodeName"] for p in pods} == {"sim-node-01", "ubuntu-1"}


async def test_an_adopted_namespace_is_labelled_only_when_asked(falco_sim, clients_for):
    sim = falco_sim(nodes=1, per_minute=6)
    clients = clients_for(sim)
    labels = {"pod-security.kubernetes.io/enforce": "baseline", "team": "payments"}
    clients.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "falco", "labels": labels}})
    app = ScreenApp(services_for(clients), fast_screen)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = app.screen
        await planned(pilot, screen)
        assert statuses(screen)["Namespace falco"] == "kept"
        status = str(screen.query_one("#deploy-status").render())
        assert "namespace falco exists, not created by falcotui, without" in status
        assert "pod-security.kubernetes.io/enforce=privileged" in status and "(l: label it)" in status
        await pilot.press("l")
        await planned(pilot, screen)
        assert screen.query_one("#deploy-manifests-pane").border_title.endswith("· label namespace)")
        assert statuses(screen)["Namespace falco"] == "changed"
        await pilot.press("a")
        dialog = await wait_for(pilot, lambda: ready(app.screen, ConfirmDialog))
        assert "every pod in it is exempt from Pod Security admission" in dialog.body.plain
        await pilot.click("#confirm")
        panel = screen.query_one(RolloutPanel)
        result = await wait_for(pilot, lambda: panel.outcome, tries=800)
        assert result.done, result.explain()
    live = clients.request("GET", "/api/v1/namespaces/falco")["metadata"]["labels"]
    assert live["pod-security.kubernetes.io/enforce"] == "privileged" and live["team"] == "payments"


async def test_dialog_buttons_say_what_enter_does(falco_sim, clients_for):
    """Issue 17 item 10: Enter on the Restart dialog chose Cancel with nothing showing that it would."""
    sim = falco_sim(nodes=1, per_minute=6)
    clients = clients_for(sim)
    await deploy(clients)
    app = ScreenApp(services_for(clients), fast_screen)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await planned(pilot, screen)
        await pilot.press("r")
        dialog = await wait_for(pilot, lambda: ready(app.screen, ConfirmDialog))
        keys = lambda: str(dialog.query_one(".keys").render())  # noqa: E731
        await wait_for(pilot, lambda: keys().startswith("⏎ Cancel"))
        await pilot.press("left")
        await wait_for(pilot, lambda: keys().startswith("⏎ Restart"))
        assert dialog.focused.id == "confirm"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
