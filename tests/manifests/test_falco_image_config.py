"""Would real Falco start from our manifests? The rendered falco.yaml is loaded together with the real
/etc/falco files of the image version the DaemonSet runs (../shared/data/falco_image), following Falco's
configuration.cpp: the container plugin must resolve, every file must pass Falco's own config schema
(but for the known 0.43.1 gap: its schema omits grpc.private_key/cert_chain/root_certs although
configuration.cpp reads them), suggested output must be on and the rules files must be ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from falcotui.falco.config_loader import ConfigError, LoadedConfig, load_config
from falcotui.falco.image import image_release
from falcotui.ops.deploy import manifests

GRPC_GAP = (
    "failed for <root>[grpc]: Object contains a property that could not be validated using 'properties' or "
    "'additionalProperties' constraints: 'private_key'."
)
PROFILES = {
    "default": {},
    "grpc": {"grpc": True, "include_secret": False},
    "privileged": {"privileged": True},
}


def _falco_container(docs: list[dict]) -> dict:
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    return next(c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == "falco")


def _mount_dir(container: dict, volume: str) -> str:
    return next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume)


def container_view(docs: list[dict], shared_data: Path) -> tuple[dict[str, str], str, list[str], str]:
    """(files, -c path, -o options, release) as the Falco container of these manifests sees them: the
    image's real /etc/falco files of its version, our ConfigMaps mounted where the DaemonSet mounts them."""
    container = _falco_container(docs)
    tag = container["image"].rsplit(":", 1)[1]
    major, minor = (int(x) for x in tag.split(".")[:2])
    release = image_release((major, minor))
    image = shared_data / "falco_image" / release
    files = {"/etc/falco/falco.yaml": (image / "falco.yaml").read_text()}
    for f in sorted((image / "config.d").iterdir()):
        files[f"/etc/falco/config.d/{f.name}"] = f.read_text()
    files["/etc/falco/falco_rules.yaml"] = (shared_data / "falco_rules.yaml").read_text()
    files["/etc/falco/rules.d/"] = ""  # the image creates the directory
    volumes = {
        v["name"]: v
        for v in next(d for d in docs if d["kind"] == "DaemonSet")["spec"]["template"]["spec"]["volumes"]
    }
    for mount in container["volumeMounts"]:
        cm = (volumes[mount["name"]].get("configMap") or {}).get("name")
        if cm is None:
            continue
        data = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == cm)["data"]
        for key, text in data.items():
            files[f"{mount['mountPath']}/{key}"] = text
    args = container.get("args") or []
    config = args[args.index("-c") + 1] if "-c" in args else "/etc/falco/falco.yaml"
    options = [args[i + 1] for i, a in enumerate(args) if a == "-o"]
    return files, config, options, release


def load(docs: list[dict], shared_data: Path) -> tuple[LoadedConfig, str]:
    files, config, options, release = container_view(docs, shared_data)
    schema = json.loads((shared_data / "falco_image" / release / "config_schema.json").read_text())
    return load_config(files, config, options, schema=schema), release


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_falco_starts_with_the_container_plugin_and_suggested_output(profile: str, shared_data: Path) -> None:
    docs = manifests.render(**PROFILES[profile])
    loaded, _ = load(docs, shared_data)  # raises "Cannot load plugin 'container' ..." if unresolved
    assert [(p.name, p.library_path) for p in loaded.plugins] == [
        ("container", "/usr/share/falco/plugins/libcontainer.so")
    ]
    assert loaded.suggested_output()
    assert loaded.suggested_fields()[-2:] == ("k8s.pod.name", "k8s.ns.name")
    extra = loaded.extra_output("Terminal shell in container", "syscall", {"container", "shell"})
    assert "k8s_ns_name=%k8s.ns.name" in extra and "container_id=%container.id" in extra
    assert loaded.rules_files == ["/etc/falco/falco_rules.yaml", "/etc/falco/rules.d"]
    assert loaded.flag("json_output", False) and loaded.flag("json_include_output_fields_property", False)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_config_file_passes_the_images_schema(profile: str, shared_data: Path) -> None:
    loaded, release = load(manifests.render(**PROFILES[profile]), shared_data)
    main = "/etc/falco-config/falco.yaml"
    assert set(loaded.validation) == {
        main,
        "/etc/falco/config.d/falco.container_plugin.yaml",
        "/etc/falco/config.d/falco.iso8601_timeformat.yaml",
    }
    expected_main = GRPC_GAP if profile == "grpc" and release == "0.43.1" else "ok"
    assert loaded.validation[main] == expected_main
    assert all(status == "ok" for path, status in loaded.validation.items() if path != main)


def test_the_grpc_gap_is_only_the_three_tls_paths(shared_data: Path) -> None:
    docs = manifests.render(grpc=True, include_secret=False)
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "falco-config")
    doc = yaml.safe_load(config["data"]["falco.yaml"])
    for key in ("private_key", "cert_chain", "root_certs"):
        del doc["grpc"][key]
    config["data"]["falco.yaml"] = yaml.safe_dump(doc)
    loaded, release = load(docs, shared_data)
    assert release == "0.43.1"
    assert set(loaded.validation.values()) == {"ok"}


def test_without_the_plugin_definition_falco_exits(shared_data: Path) -> None:
    """The failure the manifests had: our falco.yaml replaces the image's, whose `plugins:` entry the
    config.d drop-in's `load_plugins: [container]` needs."""
    docs = manifests.render()
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "falco-config")
    doc = yaml.safe_load(config["data"]["falco.yaml"])
    del doc["plugins"]
    config["data"]["falco.yaml"] = yaml.safe_dump(doc)
    with pytest.raises(
        ConfigError, match=r"^Cannot load plugin 'container': plugin config not found for given name$"
    ):
        load(docs, shared_data)
