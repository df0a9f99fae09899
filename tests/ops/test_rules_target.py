"""Which Falco the rules are validated for: the strictest version among the Falco pods, the log's word
over the image tag, the pinned version (and a note) when no pod says."""

from __future__ import annotations

from falcotui.falco.rules.dialect import DEFAULT_DIALECT
from falcotui.ops.rules.target import target_for_pods, target_for_versions


def pod(name: str, image: str) -> dict:
    containers = [{"name": "init", "image": "busybox:1"}, {"name": "falco", "image": image}]
    return {"metadata": {"name": name}, "spec": {"containers": containers}}


def test_one_version_everywhere_is_not_worth_a_note() -> None:
    target = target_for_pods(
        [pod("a", "falcosecurity/falco:0.45.0"), pod("b", "docker.io/falcosecurity/falco:0.45.0")]
    )
    assert target.dialect == DEFAULT_DIALECT and target.note == "" and not target.noteworthy
    assert target.versions == {"a": "0.45.0", "b": "0.45.0"}


def test_the_grpc_profile_is_noteworthy_and_refuses_modifiers() -> None:
    target = target_for_pods([pod("a", "falcosecurity/falco:0.43.1"), pod("b", "falcosecurity/falco:0.43.1")])
    assert target.falco_version == "0.43.1" and target.noteworthy and target.note == ""
    assert not target.dialect.modifiers
    assert target.describe() == "validated for Falco 0.43.1 (libs 0.23.2)"


def test_mixed_versions_name_the_oldest_pods() -> None:
    pods = [pod(f"p{i}", "falcosecurity/falco:0.45.0") for i in range(3)] + [
        pod(f"old{i}", "falcosecurity/falco:0.43.1") for i in range(5)
    ]
    target = target_for_pods(pods)
    assert target.falco_version == "0.43.1" and target.noteworthy
    assert target.note.startswith("the cluster runs mixed Falco versions (0.43.1, 0.45.0)")
    assert "(Falco 0.43.1 on old0, old1, old2 and 2 more)" in target.note


def test_the_log_version_wins_over_the_image_tag() -> None:
    pods = [pod("a", "falcosecurity/falco:latest"), pod("b", "falcosecurity/falco@sha256:" + "0" * 64)]
    assert target_for_pods(pods, {"b": "0.44.1"}).versions == {"b": "0.44.1"}
    assert target_for_pods(pods, {"a": "0.43.1", "b": "0.44.1"}).falco_version == "0.43.1"


def test_no_readable_version_falls_back_to_the_pinned_one_and_says_so() -> None:
    target = target_for_pods([pod("a", "falcosecurity/falco@sha256:" + "0" * 64)])
    assert target.dialect == DEFAULT_DIALECT
    pinned = f"validating for Falco {DEFAULT_DIALECT.text}, the version the manifests pin"
    assert target.note == f"no Falco pod names its version: {pinned}"
    assert "can read" in target_for_versions({"a": "latest"}).note
    assert not target_for_versions({}).noteworthy
