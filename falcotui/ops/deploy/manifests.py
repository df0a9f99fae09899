"""Locate, load and render the Falco deployment manifests falcotui applies (base and gRPC profile)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from falcotui.falco.certs import CLIENT_KEYS, SERVER_KEYS, GrpcCerts, generate_grpc_certs

IMAGE_REPOSITORY = "falcosecurity/falco"
DEFAULT_IMAGE_TAG = "0.45.0"
#: The last Falco release with the gRPC server and output (removed in 0.44.0).
GRPC_IMAGE_TAG = "0.43.1"
DEFAULT_NAMESPACE = "falco"
HEALTH_PORT = 8765
GRPC_PORT = 5060
#: The gRPC profile's two Secrets: the server side (mounted by Falco's pods) and the client side (read
#: only by falcotui, never mounted), so a Falco pod never holds the client's private key.
GRPC_SERVER_SECRET = "falco-grpc-server"
GRPC_CLIENT_SECRET = "falco-grpc-client"
#: Pod-template annotation: when the mounted certificates expire. Viewers read it from the DaemonSet (they
#: may not read Secrets), and a new value (certs rotate) rolls the pods onto the new certificates.
GRPC_CERTS_EXPIRE = "falcotui.io/grpc-certs-expire"
#: Where the gRPC Secret is mounted: its own directory, never over /etc/falco.
GRPC_CERT_DIR = "/etc/falco-grpc"
FALCO_CONTAINER = "falco"
FALCO_CONFIG_KEY = "falco.yaml"
OPERATOR_RBAC_FILE = "operator-rbac.yaml"
OPERATOR_BINDINGS_FILE = "operator-bindings.yaml"
COMMON_LABELS = {
    "app.kubernetes.io/name": "falco",
    "app.kubernetes.io/part-of": "falcotui",
    "app.kubernetes.io/managed-by": "falcotui",
}

#: The oldest Kubernetes falcotui deploys to: from 1.27 every API server offers server-side field validation
#: (`fieldValidation=Strict`), so a field an older server does not know is refused instead of silently
#: dropped. https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
MIN_KUBE_VERSION = (1, 27)
#: `securityContext.appArmorProfile` exists from Kubernetes 1.30 (AppArmor GA); before it, the beta
#: annotation `container.apparmor.security.beta.kubernetes.io/<container>` is the only way to set a profile.
#: https://kubernetes.io/docs/tutorials/security/apparmor/
APPARMOR_FIELD_SINCE = (1, 30)
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
#: `tolerate_all`: one toleration with no key and operator Exists tolerates every taint (upstream
#: `Toleration.ToleratesTaint`; https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/).
TOLERATE_ALL = [{"operator": "Exists"}]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
#: An image digest as the OCI image spec writes it for SHA-256 (descriptor.md, "Digests").
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
IMAGE_TAG_HELP = (
    "Falco image tag, TAG@sha256:DIGEST or sha256:DIGEST (a digest pins the exact image on every node; "
    "recommended)"
)
_VERSION_TAG = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")
_CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
_BINDING_KINDS = {"RoleBinding", "ClusterRoleBinding"}

_GRPC_FALCO_YAML = f"""
# gRPC profile (Falco <= 0.43.x only): the outputs API on TCP, always with mutual TLS. The certificates
# come from the Secret {GRPC_SERVER_SECRET} mounted at {GRPC_CERT_DIR}.
grpc:
  enabled: true
  bind_address: "0.0.0.0:{GRPC_PORT}"
  threadiness: 0
  private_key: {GRPC_CERT_DIR}/server.key
  cert_chain: {GRPC_CERT_DIR}/server.crt
  root_certs: {GRPC_CERT_DIR}/ca.crt
grpc_output:
  enabled: true
"""


class ManifestError(Exception):
    """The manifests cannot be found or loaded, or a render option is invalid."""


def manifests_dir() -> Traversable:
    """The directory holding the manifests: package data in a wheel, else the repository's manifests/."""
    packaged = resources.files("falcotui") / "_manifests"
    if packaged.is_dir():
        return packaged
    repo_dir = Path(__file__).resolve().parents[3] / "manifests"
    if repo_dir.is_dir():
        return repo_dir
    raise ManifestError(f"the manifests are missing: neither package data {packaged} nor {repo_dir} exists")


def manifest_files(include_operator_rbac: bool = False) -> list[Traversable]:
    """The YAML files in apply order (lexical file name order)."""
    files = sorted(
        (f for f in manifests_dir().iterdir() if f.is_file() and f.name.endswith((".yaml", ".yml"))),
        key=lambda f: f.name,
    )
    if not include_operator_rbac:
        files = [f for f in files if f.name != OPERATOR_RBAC_FILE]
    return files


def _load(files: Iterable[Traversable]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for f in files:
        try:
            loaded = list(yaml.safe_load_all(f.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            raise ManifestError(f"{f.name} is not valid YAML: {exc}") from None
        for doc in loaded:
            if doc is None:
                continue
            if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                raise ManifestError(f"{f.name} holds a document that is not a Kubernetes object")
            docs.append(doc)
    return docs


def load_base() -> list[dict[str, Any]]:
    """Every object falcotui applies, unchanged, in apply order (the operator roles are not included)."""
    return _load(manifest_files())


def operator_rbac(namespace: str = DEFAULT_NAMESPACE) -> list[dict[str, Any]]:
    """The viewer and operator roles (a Role in Falco's namespace and a cluster-scoped companion for each),
    for an administrator to apply and bind; moved to `namespace` (the namespace resourceNames too)."""
    docs = _load(f for f in manifest_files(include_operator_rbac=True) if f.name == OPERATOR_RBAC_FILE)
    set_namespace(docs, namespace)
    for doc in docs:
        for rule in doc.get("rules") or []:
            if "namespaces" in rule.get("resources", ()) and rule.get("resourceNames"):
                rule["resourceNames"] = [namespace]
    return docs


def operator_bindings(namespace: str = DEFAULT_NAMESPACE) -> list[dict[str, Any]]:
    """The example bindings (manifests/examples/operator-bindings.yaml) of the roles to the groups
    `falcotui-viewers` and `falcotui-operators`, moved to `namespace`."""
    examples = manifests_dir() / "examples"
    docs = _load([examples / OPERATOR_BINDINGS_FILE])
    set_namespace(docs, namespace)
    return docs


def _version_of(tag: str) -> tuple[int, int, int] | None:
    match = _VERSION_TAG.match(tag)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


def _check_options(namespace: str, image_tag: str | None, grpc: bool) -> str:
    if not isinstance(namespace, str) or len(namespace) > 63 or not _DNS_LABEL.match(namespace):
        raise ManifestError(
            f"namespace {namespace!r} is not a valid Kubernetes namespace name "
            "(lowercase letters, digits and '-', at most 63 characters)"
        )
    given = image_tag if image_tag is not None else (GRPC_IMAGE_TAG if grpc else DEFAULT_IMAGE_TAG)
    tag, _, digest = given.partition("@")
    if not digest and _DIGEST.match(tag):  # a bare digest: `sha256:<hex>`
        tag, digest = "", tag
    if digest and not _DIGEST.match(digest):
        raise ManifestError(f"image digest {digest!r} is not sha256: followed by 64 lowercase hex digits")
    if not tag and not digest:
        raise ManifestError(f"image tag {given!r} names neither a tag nor a digest")
    if tag and not _IMAGE_TAG.match(tag):
        raise ManifestError(f"image tag {tag!r} is not a valid container image tag")
    if tag == "latest" and not digest:
        raise ManifestError(
            "refusing image tag 'latest': pin a Falco version (best by digest: TAG@sha256:...) so every "
            "node runs the same image"
        )
    version = _version_of(tag)
    if grpc and version is not None and version >= (0, 44, 0):
        raise ManifestError(
            f"Falco {tag} has no gRPC server (removed in 0.44.0); the gRPC profile needs 0.43.x or older"
        )
    # With a digest the container runtime pulls exactly that image; the tag then only documents it.
    return (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _check_kube_version(kube_version: tuple[int, int] | None) -> None:
    if kube_version is not None and tuple(kube_version) < MIN_KUBE_VERSION:
        have = ".".join(map(str, kube_version))
        need = ".".join(map(str, MIN_KUBE_VERSION))
        raise ManifestError(
            f"Kubernetes {have} is older than falcotui supports ({need} or newer): before {need} the API "
            "server may drop fields it does not know instead of refusing them, so what runs could differ "
            "from what falcotui shows. Upgrade the cluster."
        )


def _apparmor_for_version(daemonset: dict[str, Any], kube_version: tuple[int, int] | None) -> None:
    """Below 1.30 the API server has no `appArmorProfile` field (a strict apply is refused with "unknown
    field"): move the container's profile to the beta annotation those versions read instead."""
    if kube_version is None or tuple(kube_version) >= APPARMOR_FIELD_SINCE:
        return
    template = daemonset["spec"]["template"]
    for container in template["spec"]["containers"]:
        security = container.get("securityContext") or {}
        profile = security.pop("appArmorProfile", None)
        if profile is None:
            continue
        kind = profile.get("type")
        if kind == "Unconfined":
            value = "unconfined"
        elif kind == "RuntimeDefault":
            value = "runtime/default"
        elif kind == "Localhost":
            value = f"localhost/{profile.get('localhostProfile', '')}"
        else:
            raise ManifestError(f"unknown AppArmor profile type {kind!r} in container {container['name']!r}")
        annotations = template.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[APPARMOR_ANNOTATION_PREFIX + container["name"]] = value


def _falco_container(daemonset: dict[str, Any]) -> dict[str, Any]:
    for container in daemonset["spec"]["template"]["spec"]["containers"]:
        if container["name"] == FALCO_CONTAINER:
            return container
    raise ManifestError(f"the DaemonSet has no container named {FALCO_CONTAINER!r}")


def _find(docs: Sequence[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    for doc in docs:
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name):
            return doc
    raise ManifestError(f"the manifests have no {kind}{' ' + name if name else ''}")


def set_namespace(docs: Sequence[dict[str, Any]], namespace: str) -> None:
    """Move objects to `namespace` in place: the Namespace itself, namespaced objects, binding subjects."""
    for doc in docs:
        meta = doc.setdefault("metadata", {})
        if doc["kind"] == "Namespace":
            meta["name"] = namespace
        elif doc["kind"] not in _CLUSTER_SCOPED:
            meta["namespace"] = namespace
        if doc["kind"] in _BINDING_KINDS:
            for subject in doc.get("subjects") or []:
                if subject.get("kind") == "ServiceAccount":
                    subject["namespace"] = namespace


def grpc_secrets(certs: GrpcCerts, namespace: str = DEFAULT_NAMESPACE) -> list[dict[str, Any]]:
    """The Opaque Secrets of the gRPC profile (several files each, so not TLS-typed): the server's (CA,
    server certificate and key; Falco's pods mount it) and the client's (CA, server certificate, client
    certificate and key; only falcotui reads it)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(COMMON_LABELS)},
            "type": "Opaque",
            "data": certs.to_secret_data(keys),
        }
        for name, keys in ((GRPC_SERVER_SECRET, SERVER_KEYS), (GRPC_CLIENT_SECRET, CLIENT_KEYS))
    ]


def expiry_stamp(certs: GrpcCerts) -> str:
    """The GRPC_CERTS_EXPIRE annotation's value: the first expiry, RFC 3339 UTC to the second."""
    return certs.expires().strftime("%Y-%m-%dT%H:%M:%SZ")


def _apply_grpc_profile(docs: list[dict[str, Any]], certs: GrpcCerts | None, with_secrets: bool) -> None:
    config = _find(docs, "ConfigMap", "falco-config")
    config["data"][FALCO_CONFIG_KEY] = config["data"][FALCO_CONFIG_KEY].rstrip("\n") + "\n" + _GRPC_FALCO_YAML
    daemonset = _find(docs, "DaemonSet")
    container = _falco_container(daemonset)
    # Falco 0.43 ignores `buffered_outputs: false`; -U (--unbuffered) is what makes alerts leave at once.
    container["args"] = [*container.get("args", []), "-U"]
    container.setdefault("ports", []).append({"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"})
    container.setdefault("volumeMounts", []).append(
        {"name": "grpc-certs", "mountPath": GRPC_CERT_DIR, "readOnly": True}
    )
    daemonset["spec"]["template"]["spec"].setdefault("volumes", []).append(
        {"name": "grpc-certs", "secret": {"secretName": GRPC_SERVER_SECRET, "defaultMode": 0o400}}
    )
    if certs is not None:
        annotations = daemonset["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {})
        annotations[GRPC_CERTS_EXPIRE] = expiry_stamp(certs)
        if with_secrets:
            at = docs.index(daemonset)
            docs[at:at] = grpc_secrets(certs)


def _apply_privileged_profile(daemonset: dict[str, Any]) -> None:
    """The Helm chart's default for modern_ebpf (falcosecurity/charts charts/falco/templates/
    pod-template.tpl, `falco.securityContext`: without `driver.modernEbpf.leastPrivileged` the container
    gets `privileged: true` and no AppArmor annotation). It passes where the capability set fails: nodes
    with kernel.perf_event_paranoid > 2 (Ubuntu: 4) refuse perf_event_open() without CAP_SYS_ADMIN
    (falcosecurity/charts#921). The price: the container holds every capability and every device."""
    _falco_container(daemonset)["securityContext"] = {"privileged": True}


def render(
    namespace: str = DEFAULT_NAMESPACE,
    image_tag: str | None = None,
    grpc: bool = False,
    certs: GrpcCerts | None = None,
    include_secret: bool = True,
    *,
    tolerate_all: bool = False,
    kube_version: tuple[int, int] | None = None,
    privileged: bool = False,
) -> list[dict[str, Any]]:
    """The objects falcotui applies, in apply order.

    `grpc=True` renders the gRPC profile from the same base: Falco 0.43.1 (unless `image_tag` names another
    0.43-or-older tag), `-U`, gRPC with mTLS on port 5060 and the Secrets `falco-grpc-server` (mounted)
    and `falco-grpc-client` (never mounted), placed before the DaemonSet, whose pod template carries their
    expiry (GRPC_CERTS_EXPIRE). The Secrets hold `certs`, or freshly generated ones;
    `include_secret=False` leaves them out (Secrets managed elsewhere). `tolerate_all=True` replaces the
    tolerations with one that tolerates every taint (Falco on every node, GPU and dedicated pools
    included). `kube_version` (major, minor) is the target API server's: below 1.30 the AppArmor profile
    becomes the beta annotation; below MIN_KUBE_VERSION it is refused; None means a current server.
    `privileged=True` renders the chart-style privileged container instead of the least-privilege
    capability set (see _apply_privileged_profile). Raises ManifestError for an invalid option.
    """
    reference = _check_options(namespace, image_tag, grpc)
    _check_kube_version(kube_version)
    docs = copy.deepcopy(load_base())
    daemonset = _find(docs, "DaemonSet")
    _falco_container(daemonset)["image"] = f"{IMAGE_REPOSITORY}{reference}"
    if tolerate_all:
        daemonset["spec"]["template"]["spec"]["tolerations"] = copy.deepcopy(TOLERATE_ALL)
    if privileged:
        _apply_privileged_profile(daemonset)
    _apparmor_for_version(daemonset, kube_version)
    if grpc:
        if include_secret:
            certs = certs or generate_grpc_certs()
        _apply_grpc_profile(docs, certs, include_secret)
    set_namespace(docs, namespace)
    return docs


class _Dumper(yaml.SafeDumper):
    """Block style everywhere; multi-line strings (falco.yaml, rules) as literal `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def to_yaml(docs: Sequence[dict[str, Any]]) -> str:
    """Multi-document YAML, keys in their original order."""
    return yaml.dump_all(
        docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False, explicit_start=True, width=110
    )


def parse_kube_version(text: str) -> tuple[int, int]:
    """`1.29`, `v1.29.4` or `1.29.4-gke.100` -> (1, 29); ManifestError otherwise."""
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$", text.strip())
    if not match:
        raise ManifestError(f"{text!r} is not a Kubernetes version (like 1.29 or v1.29.4)")
    return int(match.group(1)), int(match.group(2))
