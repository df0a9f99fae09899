"""Discovery documents: /version, /api, /apis (legacy and aggregated v2), and APIResourceLists."""

from __future__ import annotations

import hashlib
import re

from aiohttp import web

from falcotui.sim.api.resources import GROUPS, ResourceInfo

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "59526cd4867447956156ae3a602fcbac10b2c335",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:02:27Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def version_doc(git_version: str | None = None) -> dict:
    """`/version` of a server at `git_version` (like "v1.29.10"); the default answers as v1.32.4.

    Another version keeps only what follows from the version string (major, minor, gitVersion): the build
    details of a release we do not reproduce are left out rather than invented."""
    if not git_version or git_version == VERSION["gitVersion"]:
        return dict(VERSION)
    major, minor = parse_version(git_version)
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": git_version,
        "gitTreeState": "clean",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def parse_version(git_version: str) -> tuple[int, int]:
    """("v1.29.10" | "1.29") -> (1, 29); ValueError otherwise."""
    match = re.match(r"^v?(\d+)\.(\d+)", git_version)
    if not match:
        raise ValueError(f"not a Kubernetes version: {git_version!r}")
    return int(match.group(1)), int(match.group(2))


AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

#: subresource -> (kind it takes/returns, verbs)
_SUB = {
    "status": (None, ("get", "patch", "update")),
    "log": ("Pod", ("get",)),
    "exec": ("PodExecOptions", ("create", "get")),
    "portforward": ("PodPortForwardOptions", ("create", "get")),
}


def wants_aggregated(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept.replace(" ", "") + ";"


def _hash(ri: ResourceInfo) -> str:
    return hashlib.sha256(f"{ri.api_version}/{ri.kind}".encode()).hexdigest()[:11]


def _add_aliases(entry: dict, ri: ResourceInfo) -> None:
    """`shortNames` and `categories` (`kubectl get po`, `kubectl get all`), present only when there are any:
    both discovery documents (APIResource, APIResourceDiscovery) carry them under the same keys."""
    if ri.short_names:
        entry["shortNames"] = list(ri.short_names)
    if ri.categories:
        entry["categories"] = list(ri.categories)


def resource_list(group: str, version: str) -> dict | None:
    resources = GROUPS.get(group, {}).get(version)
    if resources is None:
        return None
    out = []
    for ri in resources:
        entry: dict = {
            "name": ri.plural,
            "singularName": ri.singular,
            "namespaced": ri.namespaced,
            "kind": ri.kind,
            "verbs": list(ri.verbs),
        }
        _add_aliases(entry, ri)
        if ri.stored:
            entry["storageVersionHash"] = _hash(ri)
        out.append(entry)
        for sub in ri.subresources:
            kind, sub_verbs = _SUB[sub]
            out.append({
                "name": f"{ri.plural}/{sub}",
                "singularName": "",
                "namespaced": ri.namespaced,
                "kind": kind or ri.kind,
                "verbs": list(sub_verbs),
            })  # fmt: skip
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": out,
    }


def api_versions(server_address: str) -> dict:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group_list() -> dict:
    groups = []
    for group, versions in GROUPS.items():
        if not group:
            continue
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _aggregated_resource(ri: ResourceInfo) -> dict:
    entry: dict = {
        "resource": ri.plural,
        "responseKind": {"group": ri.group, "version": ri.version, "kind": ri.kind},
        "scope": "Namespaced" if ri.namespaced else "Cluster",
        "singularResource": ri.singular,
        "verbs": list(ri.verbs),
    }
    _add_aliases(entry, ri)
    subs = []
    for sub in ri.subresources:
        kind, sub_verbs = _SUB[sub]
        subs.append({
            "subresource": sub,
            "responseKind": {"group": ri.group if kind is None else "", "version": ri.version,
                             "kind": kind or ri.kind},
            "verbs": list(sub_verbs),
        })  # fmt: skip
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(*, core: bool) -> dict:
    """APIGroupDiscoveryList (apidiscovery.k8s.io/v2) for /api (core) or /apis (named groups)."""
    items = []
    for group, versions in GROUPS.items():
        if bool(group) == core:
            continue
        items.append({
            "metadata": {"name": group, "creationTimestamp": None},
            "versions": [
                {"version": v, "resources": [_aggregated_resource(ri) for ri in rs], "freshness": "Current"}
                for v, rs in versions.items()
            ],
        })  # fmt: skip
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}  # fmt: skip
