"""Response actions in the TUI against the simulated cluster over HTTP (pilot): from an alert's detail,
quarantine and lift it (label + NetworkPolicy gone, the pod as before), cordon and uncordon from the node
detail, the action log screen listing each with who/what/alert and exporting JSONL; read-only disables every
action with the reason; an alert without a pod offers the node actions only; hostile alert text never
reaches the screen raw."""

from __future__ import annotations

import json
import time

from falcotui.falco.alerts import format_iso8601_ns, parse_json_alert
from falcotui.kube.apply import Applier
from falcotui.ui.alerts.response import ActionLogScreen, ActionsMenu
from falcotui.ui.widgets.dialogs import ConfirmDialog
from tests.ui.conftest import screen_text_of, wait_for, wait_shown

NS = "shop"


def _workload(clients) -> tuple[str, str]:
    node = clients.request("GET", "/api/v1/nodes")["items"][0]["metadata"]["name"]
    spec = {"nodeName": node, "containers": [{"name": "web", "image": "docker.io/library/nginx:1.27"}]}
    Applier(clients).apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {"name": "web-5f6d7", "namespace": NS},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec},
                },
            },
        ]
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = clients.request("GET", f"/api/v1/namespaces/{NS}/pods")["items"]
        if items:
            return node, items[0]["metadata"]["name"]
        time.sleep(0.05)
    raise AssertionError("the ReplicaSet made no pod")


def _alert(node: str, pod: str | None, output: str) -> bytes:
    t = time.time_ns()
    fields: dict = {"evt.time": t, "proc.cmdline": "sh -i"}
    if pod:
        fields |= {"k8s.pod.name": pod, "k8s.ns.name": NS}
    return json.dumps(
        {
            "hostname": node,
            "priority": "Critical",
            "rule": "Terminal shell in container",
            "source": "syscall",
            "time": format_iso8601_ns(t),
            "tags": ["container"],
            "output": f"09:00:00.000000000: Critical {output}",
            "output_fields": fields,
        }
    ).encode()


async def _choose(pilot, app, action: str) -> ConfirmDialog:
    """In the open actions menu: wait until `action` is enabled, pick it, return the confirmation."""
    from textual.widgets import OptionList

    menu = app.screen
    assert isinstance(menu, ActionsMenu)
    options = menu.query_one(OptionList)
    index = options.get_option_index(action)
    assert await wait_for(
        pilot,
        lambda: (
            not options.get_option_at_index(index).disabled
            and "asking" not in str(options.get_option_at_index(index).prompt)
        ),
    ), screen_text_of(app)
    options.highlighted = index
    await pilot.press("enter")
    assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog)), screen_text_of(app)
    return app.screen


async def _confirm(pilot, app) -> None:
    await pilot.click("#confirm")
    assert await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog))


async def test_quarantine_cordon_and_the_action_log(demo_app, feed, tmp_path, monkeypatch, hostile):
    monkeypatch.setenv("FALCOTUI_ACTION_LOG", str(tmp_path / "actions.jsonl"))
    app, demo = demo_app(nodes=2, scenario="quiet", deploy=False)
    app.services.export_dir = tmp_path / "exports"
    clients = demo.clients()
    node, pod = _workload(clients)
    before = clients.request("GET", f"/api/v1/namespaces/{NS}/pods/{pod}")["metadata"]
    node_before = clients.request("GET", f"/api/v1/nodes/{node}")["spec"]
    line = _alert(node, pod, f"Shell {hostile.CORPUS} in {pod}")
    async with app.run_test(size=(160, 50)) as pilot:
        await feed(app, lambda e: e.hub.ingest(parse_json_alert(line, node=node, pod="falco-x")))
        await pilot.press("f2")
        await wait_shown(pilot, app, "Terminal shell in container")
        await pilot.press("enter")  # the detail pane
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ActionsMenu))
        dialog = await _choose(pilot, app, "quarantine")
        text = await wait_shown(pilot, app, "CREATE NetworkPolicy shop/falcotui-quarantine-q", "- Egress")
        assert "falcotui.io/quarantine" in text and "as falcotui-sim" in text
        hostile.assert_clean(text, "the quarantine confirmation")
        assert dialog.danger
        await _confirm(pilot, app)

        def pod_labels() -> dict:
            return (
                clients.request("GET", f"/api/v1/namespaces/{NS}/pods/{pod}")["metadata"].get("labels") or {}
            )

        def policies() -> list:
            return clients.request("GET", f"/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies")[
                "items"
            ]

        assert await wait_for(
            pilot, lambda: "falcotui.io/quarantine" in pod_labels() and len(policies()) == 1
        )
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ActionsMenu))
        menu_text = await wait_shown(pilot, app, "the pod is already quarantined")
        hostile.assert_clean(menu_text, "the actions menu")
        await _choose(pilot, app, "unquarantine")
        await _confirm(pilot, app)
        assert await wait_for(pilot, lambda: pod_labels() == before["labels"] and policies() == [])

        # the node detail: an alert-less node target offers cordon/uncordon
        await pilot.press("f1")
        await pilot.pause(0.2)
        from falcotui.ui.fleet.node_detail import NodeDetailScreen

        app.push_screen(NodeDetailScreen(node))
        assert await wait_for(pilot, lambda: isinstance(app.screen, NodeDetailScreen))
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ActionsMenu))
        await _choose(pilot, app, "cordon")
        await _confirm(pilot, app)

        def node_spec() -> dict:
            return clients.request("GET", f"/api/v1/nodes/{node}")["spec"]

        assert await wait_for(pilot, lambda: node_spec().get("unschedulable") is True)
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ActionsMenu))
        await _choose(pilot, app, "uncordon")
        await _confirm(pilot, app)
        assert await wait_for(pilot, lambda: node_spec() == node_before), (node_spec(), node_before)

        await pilot.press("A")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ActionLogScreen))
        text = await wait_shown(
            pilot, app, "unquarantine", "uncordon", "Critical Terminal shell in container"
        )
        assert text.count("falcotui-sim") >= 4 and "(undo)" in text
        hostile.assert_clean(text, "the action log screen")
        await pilot.press("e")
        assert await wait_for(pilot, lambda: any((tmp_path / "exports").glob("falcotui-actions-*.jsonl")))
        (export,) = (tmp_path / "exports").glob("falcotui-actions-*.jsonl")
        records = [json.loads(x) for x in export.read_text().splitlines()]
        assert [r["action"] for r in records] == ["quarantine", "unquarantine", "cordon", "uncordon"]
        assert records[0]["alert"]["pod"] == pod and records[2]["alert"] is None


async def test_read_only_disables_every_action_and_no_pod_means_node_actions(
    demo_app, feed, tmp_path, monkeypatch
):
    monkeypatch.setenv("FALCOTUI_ACTION_LOG", str(tmp_path / "actions.jsonl"))
    app, demo = demo_app(nodes=1, scenario="quiet", deploy=False, read_only=True)
    node = demo.clients().request("GET", "/api/v1/nodes")["items"][0]["metadata"]["name"]
    line = _alert(node, None, "Shell on the host")
    async with app.run_test(size=(160, 50)) as pilot:
        await feed(app, lambda e: e.hub.ingest(parse_json_alert(line, node=node, pod="falco-x")))
        await pilot.press("f2")
        await wait_shown(pilot, app, "Terminal shell in container")
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ActionsMenu))
        text = await wait_shown(pilot, app, "Cordon the node  — read-only mode (--read-only)")
        assert "node actions only: the alert names no pod" in text
        assert "Delete the pod" not in text and "Quarantine" not in text
        await pilot.press("enter")  # a disabled option does nothing
        assert isinstance(app.screen, ActionsMenu)


async def test_rbac_disables_with_the_reason_and_delete_brings_a_new_pod(
    demo_app, feed, tmp_path, monkeypatch
):
    from falcotui.cli.tui_cmd import build_services
    from falcotui.kube.client import Timeouts, load_clients
    from falcotui.ui.app import FalcoTuiApp

    monkeypatch.setenv("FALCOTUI_ACTION_LOG", str(tmp_path / "actions.jsonl"))
    _admin_app, demo = demo_app(nodes=1, scenario="quiet", deploy=False)
    admin = demo.clients()
    node, pod = _workload(admin)
    rbac = "rbac.authorization.k8s.io"
    # rita reads everything and may patch pods in shop: nothing else
    Applier(admin).apply(
        [
            {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole", "metadata": {"name": "reader"},
             "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]},
            {"apiVersion": f"{rbac}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "rita-reads"},
             "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "reader"},
             "subjects": [{"apiGroup": rbac, "kind": "User", "name": "rita"}]},
            {"apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": {"name": "patcher", "namespace": NS},
             "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}]},
            {"apiVersion": f"{rbac}/v1", "kind": "RoleBinding", "metadata": {"name": "rita", "namespace": NS},
             "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "patcher"},
             "subjects": [{"apiGroup": rbac, "kind": "User", "name": "rita"}]},
        ]
    )  # fmt: skip
    policy = demo.cluster.add_user("rita")
    kubeconfig = demo.cluster.write_kubeconfig(tmp_path / "kc-rita", user="rita")
    clients = load_clients(str(kubeconfig), None, timeouts=Timeouts(connect=2.0, read=15.0))
    app = FalcoTuiApp(
        build_services(clients, namespace="falco", read_only=False, context_name="sim", demo=True)
    )
    line = _alert(node, pod, "Shell in a container")
    async with app.run_test(size=(160, 50)) as pilot:
        await feed(app, lambda e: e.hub.ingest(parse_json_alert(line, node=node, pod="falco-x")))
        await pilot.press("f2")
        await wait_shown(pilot, app, "Terminal shell in container")
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ActionsMenu))
        await wait_shown(
            pilot,
            app,
            "Delete the pod  — RBAC: rita may not delete pods in namespace shop",
            "Quarantine the pod  — RBAC: rita may not create networkpolicies.networking.k8s.io in namespace "
            "shop",
            "Cordon the node  — RBAC: rita may not patch nodes",
        )
        await _choose(pilot, app, "annotate")  # what the role allows is offered and works
        await _confirm(pilot, app)

        def annotations() -> dict:
            return (
                admin.request("GET", f"/api/v1/namespaces/{NS}/pods/{pod}")["metadata"].get("annotations")
                or {}
            )

        assert await wait_for(pilot, lambda: "falcotui.io/alert" in annotations())
    writes = [d for d in policy.decisions if d.verb in ("delete", "create", "patch")]
    writes = [d for d in writes if d.resource != "selfsubjectaccessreviews"]
    assert {(d.verb, d.resource, d.allowed) for d in writes} == {
        ("patch", "pods", True)
    }  # asked, never tried

    # the admin deletes it from the TUI: the ReplicaSet brings a pod with a new name
    async with _admin_app.run_test(size=(160, 50)) as pilot:
        app = _admin_app
        await feed(app, lambda e: e.hub.ingest(parse_json_alert(line, node=node, pod="falco-x")))
        await pilot.press("f2")
        await wait_shown(pilot, app, "Terminal shell in container")
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ActionsMenu))
        await _choose(pilot, app, "delete-pod")
        await wait_shown(pilot, app, "its ReplicaSet web-5f6d7 recreates it under a new name")
        await _confirm(pilot, app)

        def names() -> list[str]:
            items = admin.request("GET", f"/api/v1/namespaces/{NS}/pods")["items"]
            return [p["metadata"]["name"] for p in items if not p["metadata"].get("deletionTimestamp")]

        assert await wait_for(pilot, lambda: len(names()) == 1 and names()[0] != pod)
        assert names()[0].startswith("web-5f6d7-")
