"""`falcotui apply` against simulated clusters that differ from the default one: an older API server, and
(see test_apply_stuck_reasons.py) nodes and admission that keep Falco off some nodes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def _load(name: str, path: Path):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_here = Path(__file__).resolve().parent
cli = _load("apply_cmd_tests", _here / "test_apply_cmd.py").cli

ANNOTATION = "container.apparmor.security.beta.kubernetes.io/falco"


def test_apply_to_a_1_29_server_uses_the_app_armor_annotation(falco_sim, clients_for):
    sim = falco_sim(nodes=1, server_version="v1.29.10")
    code, out, err = cli(sim, "apply", "--yes", "--timeout", "60")
    assert code == 0, err
    assert "API server v1.29.10 predates securityContext.appArmorProfile (1.30)" in out
    ds = clients_for(sim).request("GET", "/apis/apps/v1/namespaces/falco/daemonsets/falco")
    template = ds["spec"]["template"]
    assert template["metadata"]["annotations"][ANNOTATION] == "unconfined"
    assert "appArmorProfile" not in template["spec"]["containers"][0]["securityContext"]


def test_apply_to_a_current_server_uses_the_field(falco_sim, clients_for):
    sim = falco_sim(nodes=1)
    code, out, err = cli(sim, "apply", "--yes", "--timeout", "60")
    assert code == 0, err
    assert "predates" not in out
    ds = clients_for(sim).request("GET", "/apis/apps/v1/namespaces/falco/daemonsets/falco")
    container = ds["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["appArmorProfile"] == {"type": "Unconfined"}


def test_apply_to_a_server_older_than_supported_is_refused_before_anything_changes(falco_sim, clients_for):
    sim = falco_sim(nodes=1, server_version="v1.26.15")
    code, _, err = cli(sim, "apply", "--yes")
    assert code == 1
    assert "API server v1.26.15: Kubernetes 1.26 is older than falcotui supports (1.27 or newer)" in err
    namespaces = clients_for(sim).request("GET", "/api/v1/namespaces")["items"]
    assert "falco" not in {n["metadata"]["name"] for n in namespaces}
