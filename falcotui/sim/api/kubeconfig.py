"""Write a kubeconfig that points kubectl and the official client at a simulated cluster."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml

CONTEXT = "falcotui-sim"


def kubeconfig_dict(url: str, *, ca_pem: bytes | None = None, token: str | None = None,
                    namespace: str = "falco", user_name: str = CONTEXT) -> dict:  # fmt: skip
    cluster: dict = {"server": url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode("ascii")
    user: dict = {"token": token} if token else {}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": cluster}],
        "users": [{"name": user_name, "user": user}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user_name, "namespace": namespace}}
        ],
        "current-context": CONTEXT,
    }


def write_kubeconfig(path: str | os.PathLike, url: str, *, ca_pem: bytes | None = None,
                     token: str | None = None, namespace: str = "falco",
                     user_name: str = CONTEXT) -> Path:  # fmt: skip
    """Write the file (mode 0600, it may hold a token) and return its path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        kubeconfig_dict(url, ca_pem=ca_pem, token=token, namespace=namespace, user_name=user_name),
        sort_keys=False,
    )
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return p
