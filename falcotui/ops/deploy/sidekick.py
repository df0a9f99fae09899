"""`manifests render --sidekick nats://…`: Falcosidekick beside Falco, publishing every alert to NATS.

Adds a Deployment and a Service `falcosidekick` (the image pinned by tag, or by digest with
`TAG@sha256:…`, as Falco's is) configured by environment variables, and points Falco's `http_output` at it.
The JetStream stream that keeps the alerts is not created here: that is the NATS operator's to do, once.

Facts: Falco's `http_output` keys `enabled` and `url` (../shared/data/falco_image/*/falco.yaml and its
config_schema.json); JSON alerts (`json_output: true`, already in our falco.yaml) are what Falcosidekick's
handler decodes (falcosidekick handlers.go:101-104). Falcosidekick (falcosecurity/falcosidekick at 8807ab7b):
listens on 2801 (config.go:491 `ListenPort`), reads every key from the environment with `.` → `_`
(config.go:650-651, so `Nats.HostPort` is `NATS_HOSTPORT`), `CUSTOMFIELDS` as `key:value,…`
(config.go:682-697), runs as user 1234 (Dockerfile `USER 1234`); NATS keys: config_example.yaml:165-170.
Image tag 2.34.1: the newest release tag of that repository (`git tag`). Pinned by tag only, on purpose:
no published digest could be cited. The falcosidekick repository (8807ab7b) holds none (no `sha256:` in its
release workflows or docs), the Falco chart (falcosecurity/charts at 548458c, charts/falcosidekick/
values.yaml) pins `image.tag: 2.32.0` by tag with no digest field, and no registry is reachable here. A
digest is never guessed: pass `--sidekick-image-tag 2.34.1@sha256:…` read from your registry.
"""

from __future__ import annotations

import re
from typing import Any

from falcotui.ops.deploy.manifests import _DIGEST, _IMAGE_TAG, FALCO_CONFIG_KEY, ManifestError

SIDEKICK_IMAGE_REPOSITORY = "falcosecurity/falcosidekick"
SIDEKICK_IMAGE_TAG = "2.34.1"
SIDEKICK_NAME = "falcosidekick"
SIDEKICK_PORT = 2801
_HTTP_OUTPUT_OFF = "http_output:\n  enabled: false\n"
_CLUSTER = re.compile(r"[A-Za-z0-9._-]{1,63}")
_LABELS = {
    "app.kubernetes.io/name": SIDEKICK_NAME,
    "app.kubernetes.io/part-of": "falcotui",
    "app.kubernetes.io/managed-by": "falcotui",
}


def sidekick_reference(image_tag: str | None) -> str:
    """`:TAG`, `@sha256:…` or `:TAG@sha256:…` for the Falcosidekick image; 'latest' alone is refused."""
    given = image_tag or SIDEKICK_IMAGE_TAG
    tag, _, digest = given.partition("@")
    if digest and not _DIGEST.match(digest):
        raise ManifestError(
            f"Falcosidekick image digest {digest!r} is not sha256: and 64 lowercase hex digits"
        )
    if tag and not _IMAGE_TAG.match(tag):
        raise ManifestError(f"Falcosidekick image tag {tag!r} is not a valid container image tag")
    if (tag in ("", "latest")) and not digest:
        raise ManifestError("pin the Falcosidekick image: a release tag (e.g. 2.34.1), best with @sha256:…")
    return (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def add_sidekick(
    docs: list[dict[str, Any]],
    namespace: str,
    nats_url: str,
    *,
    cluster: str | None = None,
    image_tag: str | None = None,
) -> None:
    """Falcosidekick's Deployment and Service appended to `docs`; Falco's http_output pointed at it."""
    if not nats_url.startswith(("nats://", "tls://")) or len(nats_url) < 8:
        raise ManifestError(f"--sidekick {nats_url!r}: give the NATS server as nats://HOST:PORT")
    if cluster is not None and not _CLUSTER.fullmatch(cluster):
        raise ManifestError(f"cluster name {cluster!r}: letters, digits, '.', '_' or '-' (at most 63)")
    reference = sidekick_reference(image_tag)
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "falco-config")
    text = config["data"][FALCO_CONFIG_KEY]
    if _HTTP_OUTPUT_OFF not in text:
        raise ManifestError("falco.yaml has no `http_output: enabled: false` block to turn on")
    url = f"http://{SIDEKICK_NAME}.{namespace}.svc:{SIDEKICK_PORT}/"
    config["data"][FALCO_CONFIG_KEY] = text.replace(
        _HTTP_OUTPUT_OFF, f"http_output:\n  enabled: true\n  url: {url}\n"
    )
    env = [{"name": "NATS_HOSTPORT", "value": nats_url}]
    if cluster:
        env.append({"name": "CUSTOMFIELDS", "value": f"cluster:{cluster}"})
    meta = {"name": SIDEKICK_NAME, "namespace": namespace, "labels": dict(_LABELS)}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": dict(meta),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": SIDEKICK_NAME}},
            "template": {
                "metadata": {"labels": dict(_LABELS)},
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 1234,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": SIDEKICK_NAME,
                            "image": f"{SIDEKICK_IMAGE_REPOSITORY}{reference}",
                            "env": env,
                            "ports": [{"name": "http", "containerPort": SIDEKICK_PORT, "protocol": "TCP"}],
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": dict(meta),
        "spec": {
            "selector": {"app.kubernetes.io/name": SIDEKICK_NAME},
            "ports": [{"name": "http", "port": SIDEKICK_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    at = next(i for i, d in enumerate(docs) if d["kind"] == "DaemonSet")
    docs[at:at] = [service, deployment]  # before Falco, so its first alerts find Falcosidekick
