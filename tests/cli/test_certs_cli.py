"""The gRPC certificates' expiry in `status` (and the fleet header's text), and `falcotui certs rotate`
renewing them with a rollout (issue 13, finding 8)."""

from __future__ import annotations

import datetime as dt
import json

from falcotui.ops.deploy.manifests import GRPC_CERTS_EXPIRE
from falcotui.ops.fleet.k8s import certs_text, daemonset_summary

DS = "/apis/apps/v1/namespaces/falco/daemonsets/falco"


def test_status_shows_the_expiry_and_rotate_renews_with_a_rollout(cli_sim):
    sim = cli_sim(nodes=2, grpc=True)
    before = sim.clients.request("GET", DS)
    stamp = before["spec"]["template"]["metadata"]["annotations"][GRPC_CERTS_EXPIRE]
    day = stamp[:10]
    proc = sim.cli("status")
    assert proc.returncode == 0, proc.stderr
    assert f"gRPC certs until {day}" in proc.stdout
    doc = json.loads(sim.cli("status", "--json").stdout)
    assert doc["daemonset"]["grpc_certs_expire"] == stamp

    refused = sim.cli("certs", "rotate")  # no terminal, no --yes
    assert refused.returncode == 2 and "refusing without --yes" in refused.stderr
    proc = sim.cli("certs", "rotate", "--yes", "--timeout", "60")
    assert proc.returncode == 0, proc.stderr
    after = sim.clients.request("GET", DS)
    new_stamp = after["spec"]["template"]["metadata"]["annotations"][GRPC_CERTS_EXPIRE]
    assert f"new certificates until {new_stamp}" in proc.stdout
    assert 'daemon set "falco" successfully rolled out' in proc.stdout
    assert after["metadata"]["generation"] > before["metadata"]["generation"]


def test_rotate_without_the_grpc_profile_is_refused(cli_sim):
    sim = cli_sim(nodes=1)
    proc = sim.cli("certs", "rotate", "--yes")
    assert proc.returncode == 1 and "gRPC profile is not deployed" in proc.stderr


def test_expiry_text_warns_before_it_is_too_late():
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC).timestamp()
    assert certs_text("") == ""
    assert certs_text("2027-03-06T10:00:00Z", now) == "gRPC certs until 2027-03-06"
    assert certs_text("2026-12-20T00:00:00Z", now) == "gRPC certs expire in 14 d (falcotui certs rotate)"
    assert certs_text("2026-12-01T00:00:00Z", now) == "gRPC certs EXPIRED 2026-12-01 (falcotui certs rotate)"
    ds = {"metadata": {"name": "falco"}, "spec": {"template": {"metadata": {"annotations": {
        GRPC_CERTS_EXPIRE: "2027-03-06T10:00:00Z"}}}}}  # fmt: skip
    assert daemonset_summary(ds).certs_expire == "2027-03-06T10:00:00Z"
