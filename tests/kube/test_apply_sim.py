"""Server-side apply, dry-run diffs, conflicts and deletes against the simulated API server."""

from __future__ import annotations

import copy

import pytest

from falcotui.kube.apply import Applier, ApplyConflictError
from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeApiError
from falcotui.kube.rollout import wait_rollout
from falcotui.sim.api.auth import Policy


def live_rvs(kube: KubeClients, applier: Applier, manifests: list[dict]) -> dict[str, str]:
    return {
        o["metadata"]["name"] + "/" + o["kind"]: applier.get_live(o)["metadata"]["resourceVersion"]
        for o in manifests
    }


def daemonset(manifests: list[dict]) -> dict:
    return next(o for o in manifests if o["kind"] == "DaemonSet")


def with_image(manifests: list[dict], image: str) -> list[dict]:
    out = copy.deepcopy(manifests)
    daemonset(out)["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return out


async def test_first_apply_creates_second_changes_nothing(kube: KubeClients, manifests: list[dict]) -> None:
    applier = Applier(kube)
    first = applier.apply(manifests)
    assert {r.status for r in first} == {"created"}
    assert len(first) == len(manifests)
    assert (await wait_rollout(kube, "falco", "falco", timeout=30)).done  # status writes have settled
    rvs = live_rvs(kube, applier, manifests)
    second = applier.apply(manifests)
    assert {r.status for r in second} == {"unchanged"}
    assert all(r.diff == "" for r in second)
    assert live_rvs(kube, applier, manifests) == rvs


async def test_dry_run_shows_the_image_change_and_changes_nothing(
    kube: KubeClients, manifests: list[dict]
) -> None:
    applier = Applier(kube)
    applier.apply(manifests)
    assert (await wait_rollout(kube, "falco", "falco", timeout=30)).done  # status writes have settled
    rvs = live_rvs(kube, applier, manifests)
    results = applier.apply(with_image(manifests, "falcosecurity/falco:0.44.1"), dry_run=True)
    changed = [r for r in results if r.status == "changed"]
    assert [r.ref for r in changed] == ["DaemonSet falco/falco"]
    diff = changed[0].diff
    assert "-        image: falcosecurity/falco:0.45.0" in diff
    assert "+        image: falcosecurity/falco:0.44.1" in diff
    assert "managedFields" not in diff and "resourceVersion" not in diff
    assert live_rvs(kube, applier, manifests) == rvs
    live = applier.get_live(daemonset(manifests))
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "falcosecurity/falco:0.45.0"


def test_dry_run_on_an_empty_cluster_reports_everything_as_created(
    kube: KubeClients, manifests: list[dict]
) -> None:
    applier = Applier(kube)
    results = applier.apply(manifests, dry_run=True)
    assert {r.status for r in results} == {"created"}
    assert all(applier.get_live(o) is None for o in manifests)


def test_conflicting_manager_gets_a_readable_report_and_force_takes_over(
    kube: KubeClients, manifests: list[dict]
) -> None:
    Applier(kube).apply(manifests)
    other = Applier(kube, field_manager="kubectl-edit")
    ds = daemonset(with_image(manifests, "falcosecurity/falco:0.44.1"))
    with pytest.raises(ApplyConflictError) as info:
        other.apply([ds])
    report = str(info.value)
    assert report.startswith("DaemonSet falco/falco: 1 field owned by another manager:")
    assert '.spec.template.spec.containers[name="falco"].image' in report
    assert "'falcotui'" in report
    assert [c.manager for c in info.value.conflicts] == ["falcotui"]

    (result,) = other.apply([ds], force=True)
    assert result.status == "changed"
    live = Applier(kube).get_live(ds)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "falcosecurity/falco:0.44.1"
    owners = {m["manager"] for m in live["metadata"]["managedFields"]}
    assert "kubectl-edit" in owners


def test_delete_removes_everything_and_tolerates_missing(kube: KubeClients, manifests: list[dict]) -> None:
    applier = Applier(kube)
    applier.apply(manifests)
    results = applier.delete(manifests, propagation="Background")
    assert {status for _, status in results} == {"deleted"}
    assert results[0][0] == "DaemonSet falco/falco"  # dependents first
    again = applier.delete([daemonset(manifests)])
    assert again == [("DaemonSet falco/falco", "not found")]


def test_can_i_asks_the_server(make_sim, connect) -> None:
    kube = connect(make_sim(policy=Policy.read_only()))
    assert kube.can_i("list", "pods", "falco") is True
    assert kube.can_i("patch", "daemonsets", "falco", group="apps") is False


def test_typed_calls_map_failures_to_our_errors_and_stale_writes_conflict(kube: KubeClients) -> None:
    with pytest.raises(KubeApiError) as missing:
        kube.call(kube.core.read_namespaced_config_map, "nope", "default")
    assert missing.value.code == 404 and 'configmaps "nope" not found' in str(missing.value)

    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "rules"}, "data": {"a": "1"}}
    created = kube.call(kube.core.create_namespaced_config_map, "default", body)
    stale = created.to_dict()
    fresh = created.to_dict()
    fresh["data"] = {"a": "2"}
    kube.call(kube.core.replace_namespaced_config_map, "rules", "default", fresh)  # the first editor wins
    stale["data"] = {"a": "3"}
    with pytest.raises(KubeApiError) as conflict:
        kube.call(kube.core.replace_namespaced_config_map, "rules", "default", stale)
    assert conflict.value.code == 409 and "the object has been modified" in str(conflict.value)
    assert kube.call(kube.core.read_namespaced_config_map, "rules", "default").data == {"a": "2"}
