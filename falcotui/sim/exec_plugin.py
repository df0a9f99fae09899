"""A client-go exec credential plugin for the simulator: `python -m falcotui.sim.exec_plugin --lifetime 5`.

It reads `KUBERNETES_EXEC_INFO` (an ExecCredential with `spec.interactive`), mints a token the simulated
API server accepts until it expires (`falcotui.sim.api.tokens`, secret from `$SIM_TOKEN_SECRET`) and prints an
ExecCredential of the same apiVersion with `status.token` and `status.expirationTimestamp` (RFC 3339), as
kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins describes.
Every run appends one JSON line to `--log` (what it was told, whether stdin was a terminal) so tests can
count runs. `--fail N` exits N after writing `--stderr` to stderr (`--fail-if-exists F`: while F
exists); `--prompt` (`--prompt-if-exists F`: while F exists) reads one line from stdin when told it is
interactive (a re-login), and fails when not; `--claim-lifetime` reports an expiry other than the
real one; `--no-expiry` reports none (so the client meets a 401 first).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime

from falcotui.sim.api.tokens import mint


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sim-exec-plugin")
    p.add_argument("--lifetime", type=float, default=3600.0)
    p.add_argument("--claim-lifetime", type=float, default=None)
    p.add_argument("--no-expiry", action="store_true")
    p.add_argument("--log", default=None)
    p.add_argument("--fail", type=int, default=0)
    p.add_argument("--stderr", default="")
    p.add_argument(
        "--fail-if-exists", default=None, help="fail (as --fail, default 1) while this file exists"
    )
    p.add_argument("--prompt", action="store_true")
    p.add_argument("--prompt-if-exists", default=None, help="as --prompt while this file exists")
    p.add_argument("--api-version", default=None, help="answer with this apiVersion instead of the asked one")
    args = p.parse_args(argv)
    info = json.loads(os.environ.get("KUBERNETES_EXEC_INFO") or "{}")
    interactive = bool((info.get("spec") or {}).get("interactive"))
    record = {
        "interactive": interactive,
        "stdin_tty": sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty(),
        "api_version": info.get("apiVersion"),
        "at": time.time(),
    }
    if args.fail_if_exists and os.path.exists(args.fail_if_exists):
        args.fail = args.fail or 1
    answer = ""
    if args.prompt_if_exists and os.path.exists(args.prompt_if_exists):
        args.prompt = True
    if args.prompt:
        if not interactive:
            args.fail, args.stderr = args.fail or 1, args.stderr or "login required: run me interactively"
        else:
            sys.stderr.write("Re-login: type anything and press Enter: ")
            sys.stderr.flush()
            answer = sys.stdin.readline().strip()
            record["answer"] = answer
    if args.log:
        with open(args.log, "a") as f:
            f.write(json.dumps(record) + "\n")
    if args.fail:
        sys.stderr.write(args.stderr + "\n")
        return args.fail
    secret = os.environ.get("SIM_TOKEN_SECRET", "")
    if not secret:
        sys.stderr.write("SIM_TOKEN_SECRET is not set\n")
        return 2
    token, expiry = mint(secret, args.lifetime)
    status: dict = {"token": token}
    if not args.no_expiry:
        claimed = expiry if args.claim_lifetime is None else time.time() + args.claim_lifetime
        status["expirationTimestamp"] = _rfc3339(claimed)
    api_version = args.api_version or info.get("apiVersion") or "client.authentication.k8s.io/v1"
    json.dump({"apiVersion": api_version, "kind": "ExecCredential", "status": status}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
