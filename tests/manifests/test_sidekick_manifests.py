"""`manifests render --sidekick nats://…`: Falcosidekick beside Falco, Falco's http_output pointed at it.
Falco's keys are checked against the image's own falco.yaml and schema (../shared/data/falco_image)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from falcotui.ops.deploy import manifests
from falcotui.ops.deploy.manifests import ManifestError
from falcotui.ops.deploy.sidekick import add_sidekick

from .test_falco_image_config import container_view, load


def _render(**kw) -> list[dict]:
    docs = manifests.render()
    add_sidekick(docs, "falco", "nats://nats.example:4222", **kw)
    return docs


def test_falco_posts_to_falcosidekick_and_the_config_still_loads(shared_data: Path) -> None:
    docs = _render(cluster="prod-eu")
    loaded, release = load(docs, shared_data)
    assert loaded.validation["/etc/falco-config/falco.yaml"] == "ok"  # the image's schema accepts it
    files, config, _o, _r = container_view(docs, shared_data)
    ours = yaml.safe_load(files[config])["http_output"]
    assert ours == {"enabled": True, "url": "http://falcosidekick.falco.svc:2801/"}
    real = yaml.safe_load((shared_data / "falco_image" / release / "falco.yaml").read_text())["http_output"]
    assert set(ours) <= set(real)  # every key we set is one of Falco's own http_output keys
    kinds = [d["kind"] for d in docs]
    assert kinds.index("Service") < kinds.index("Deployment") < kinds.index("DaemonSet")
    dep = next(d for d in docs if d["kind"] == "Deployment")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "falcosecurity/falcosidekick:2.34.1"
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "NATS_HOSTPORT": "nats://nats.example:4222",
        "CUSTOMFIELDS": "cluster:prod-eu",
    }


def test_pinning_and_refusals() -> None:
    digest = "sha256:" + "a" * 64
    dep = next(d for d in _render(image_tag=f"2.34.1@{digest}") if d["kind"] == "Deployment")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":2.34.1@{digest}")
    for bad in ({"image_tag": "latest"}, {"cluster": "a:b"}):
        with pytest.raises(ManifestError):
            _render(**bad)
    with pytest.raises(ManifestError):
        add_sidekick(manifests.render(), "falco", "http://x:1")


def test_cli_render_sidekick() -> None:
    cmd = [sys.executable, "-m", "falcotui", "manifests", "render", "--sidekick", "nats://n:4222"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert any(d["kind"] == "Deployment" and d["metadata"]["name"] == "falcosidekick" for d in docs)
    bad = subprocess.run([*cmd[:5], "--sidekick-cluster", "x"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "only apply with --sidekick" in bad.stderr
