"""Validate candidate rules with the cluster's own Falco: `falco -V` by exec in one Falco pod per version.

For every Falco version the pods run (`rules_target.pod_falco_version`, or what the pod's log printed),
one running pod is asked, beside falcotui's own validator for that version:

1. `mktemp -d /tmp/falcotui-validate.XXXXXX` makes a private directory in the pod's /tmp (busybox
   debianutils/mktemp.c; the image is wolfi-base, whose wolfi-baselayout creates /tmp and whose busybox
   gives `sh`, `mktemp`, `printf`, `rm`: falcosecurity/falco docker/falco/Dockerfile, wolfi-dev/os
   wolfi-baselayout.yaml). falcotui's DaemonSet runs with a read-only root and mounts an emptyDir there.
2. Each candidate file is written with `sh -c 'printf %s "$1" > "$2"'` (argv, not stdin: the v4 channel
   protocol cannot close stdin, v5 is not on every cluster), in chunks below the kernel's 128 KiB limit of
   one argument (MAX_ARG_STRLEN) and well under the API server's 1 MiB request line once percent-encoded.
3. `/usr/bin/falco [-c <the pod's config>] -V /etc/falco/falco_rules.yaml -V <dir>/<key>... -o
   json_output=true`: validate_rules_files.cpp loads every `-V` file in order into one engine and exits
   before load_rules_files, so the config's `rules_files` are not loaded and the image's default rules
   are named first, as the pod loads them (rules.d keys in lexical order after them). With json_output it
   prints one `{"falco_load_results": [...]}` line on stdout; the exit code is 0 when every file loaded,
   1 otherwise (run_result::fatal -> falco.cpp `Error: <summary>` on stderr, EXIT_FAILURE).
4. `rm -rf <dir>` always, also when a step before failed; a failed removal is reported with the path left.

Exec is `get` + `create` on `pods/exec` (the websocket upgrade is a GET; Kubernetes 1.35 also checks
`create`, AuthorizePodWebsocketUpgradeCreatePermission), asked first with SelfSubjectAccessReview.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from falcotui.falco.rules.dialect import UnknownFalcoVersion, dialect_for, parse_version
from falcotui.kube.client import KubeClients
from falcotui.kube.errors import KubeError
from falcotui.kube.exec import ExecError, ExecResult, exec_command
from falcotui.kube.objects import container_ready
from falcotui.ops.rules.model import DEFAULT_RULES_PATH, RulesError, Validation
from falcotui.ops.rules.service import RulesService
from falcotui.ops.rules.target import RulesTarget, pod_falco_version

FALCO_BINARY = "/usr/bin/falco"  # docker/falco/Dockerfile: CMD ["/usr/bin/falco"]
TMP_TEMPLATE = "/tmp/falcotui-validate.XXXXXX"
WRITE_SCRIPT = 'printf %s "$1" > "$2"'
APPEND_SCRIPT = 'printf %s "$1" >> "$2"'
# one exec argument: 30 Ki characters are at most 120 KiB of UTF-8 (under MAX_ARG_STRLEN, 128 KiB) and at most
# 360 KiB percent-encoded in the exec URL (under Go's default 1 MiB of request line and headers)
CHUNK_CHARS = 30 * 1024
CONTAINER = "falco"

Exec = Callable[[str, list[str]], ExecResult]  # (pod, argv) -> result; raises ExecError/KubeError


@dataclass(frozen=True, slots=True)
class FalcoMessage:
    """One error or warning as the cluster's Falco reported it: file (a ConfigMap key or the default rules'
    path) and 1-based position of the innermost location in a file (for a condition, the rule's)."""

    severity: str  # "error" | "warning"
    code: str
    message: str
    file: str
    line: int
    column: int
    item: str = ""  # `rule 'X'`, `macro 'Y'` ...

    def key(self) -> tuple[str, str, str]:
        """What both validators must agree on: the code, the file and the rule/macro/list it is about
        (not the line: Falco places a condition's error inside the condition's text)."""
        return (self.code, self.file, self.item)


@dataclass(slots=True)
class ClusterVerdict:
    """What one Falco version's `falco -V` said, beside falcotui's own verdict for that version."""

    version: str
    pod: str
    node: str = ""
    ok: bool | None = None  # None: Falco could not be asked (see `problem`)
    exit_code: int | None = None
    errors: list[FalcoMessage] = field(default_factory=list)
    warnings: list[FalcoMessage] = field(default_factory=list)
    fatal: str = ""  # Falco's `Error: ...` line when it stopped without a per-file result
    problem: str = ""  # why Falco could not be asked (exec refused, no /tmp, timeout, ...)
    tmp_dir: str = ""
    cleaned: bool = True  # the temporary directory is gone (or was never made)
    cleanup_error: str = ""
    ours: Validation | None = None

    @property
    def ours_ok(self) -> bool | None:
        return None if self.ours is None else self.ours.ok

    @property
    def disagrees(self) -> bool:
        """Falco and falcotui gave different verdicts (only when both gave one)."""
        return self.ok is not None and self.ours_ok is not None and self.ok != self.ours_ok

    @property
    def detail_differs(self) -> bool:
        """Same verdict, but the errors found differ (code, file or line)."""
        if self.ok is None or self.ours is None or self.disagrees:
            return False
        ours = {(m.code, _short(m.file), _item(m.item_type, m.item_name)) for m in self.ours.errors}
        return ours != {m.key() for m in self.errors}

    def verdict_text(self) -> str:
        if self.ok is None:
            return "not asked"
        return "valid" if self.ok else "INVALID"

    def ours_text(self) -> str:
        ok = self.ours_ok
        return "not checked" if ok is None else ("valid" if ok else "INVALID")


@dataclass(slots=True)
class InClusterValidation:
    verdicts: list[ClusterVerdict]
    note: str = ""  # e.g. versions without a running pod

    @property
    def asked(self) -> list[ClusterVerdict]:
        return [v for v in self.verdicts if v.ok is not None]

    @property
    def all_valid(self) -> bool:
        """Every Falco asked loads the rules (and at least one was asked)."""
        return bool(self.asked) and all(v.ok for v in self.asked)

    @property
    def rejected_by(self) -> list[ClusterVerdict]:
        return [v for v in self.verdicts if v.ok is False]

    @property
    def disagreements(self) -> list[ClusterVerdict]:
        return [v for v in self.verdicts if v.disagrees]

    @property
    def leftovers(self) -> list[ClusterVerdict]:
        return [v for v in self.verdicts if not v.cleaned]


def _short(path: str) -> str:
    """A ConfigMap key for a rules.d or temp path; the default rules keep their path."""
    if path == DEFAULT_RULES_PATH:
        return path
    return posixpath.basename(path) if path.startswith(("/tmp/", "/etc/falco/rules.d/")) else path


def _item(item_type: str, item_name: str | None) -> str:
    return f"{item_type} '{item_name}'" if item_name else ""


def exec_permission(clients: KubeClients, namespace: str) -> str | None:
    """None when these credentials may exec into pods of `namespace`, else why not (SelfSubjectAccessReview
    for `get` and `create` on pods/exec)."""
    missing = []
    for verb in ("get", "create"):
        try:
            if not clients.can_i(verb, "pods", namespace, subresource="exec"):
                missing.append(verb)
        except KubeError:
            return None  # no answer: the exec itself will say
    if not missing:
        return None
    return (
        f"your credentials may not {' or '.join(missing)} pods/exec in namespace {namespace}: validating "
        "with the cluster's Falco runs `falco -V` inside a Falco pod (pods/exec is in the falcotui-operator "
        "role)"
    )


def config_path(pod: Mapping) -> str | None:
    """The `-c`/`--config` the pod's falco container runs with (None: Falco's default)."""
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") != CONTAINER:
            continue
        argv = [*(c.get("command") or []), *(c.get("args") or [])]
        for i, arg in enumerate(argv):
            if arg in ("-c", "--config") and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith("--config="):
                return arg.split("=", 1)[1]
            if arg.startswith("-c") and len(arg) > 2:
                return arg[2:]
    return None


def _running(pod: Mapping) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return any(s.get("name") == CONTAINER and "running" in (s.get("state") or {}) for s in statuses)


def pods_per_version(
    pods: list[dict], logged: Mapping[str, str] | None = None
) -> tuple[dict[str, dict], list[str]]:
    """One running Falco pod per version (ready first, then by name) and the versions seen without one."""
    by_version: dict[str, list[dict]] = {}
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name", "")
        version = (logged or {}).get(name) or pod_falco_version(pod)
        if version:
            by_version.setdefault(version, []).append(pod)
    chosen: dict[str, dict] = {}
    none_running: list[str] = []
    for version in sorted(by_version, key=_version_key):
        candidates = [p for p in by_version[version] if _running(p)]
        if not candidates:
            none_running.append(version)
            continue
        candidates.sort(key=lambda p: (not container_ready(p, CONTAINER), p["metadata"]["name"]))
        chosen[version] = candidates[0]
    return chosen, none_running


def _version_key(version: str) -> tuple:
    try:
        return (0, parse_version(version))
    except UnknownFalcoVersion:
        return (1, version)


def parse_falco_json(stdout: str, tmp_dir: str) -> tuple[list[FalcoMessage], list[FalcoMessage]] | None:
    """Errors and warnings from `falco -V ... -o json_output=true` (its `falco_load_results` line)."""
    doc = None
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and "falco_load_results" in line:
            try:
                doc = json.loads(line)
            except ValueError:
                return None
    if not isinstance(doc, dict) or not isinstance(doc.get("falco_load_results"), list):
        return None
    errors: list[FalcoMessage] = []
    warnings: list[FalcoMessage] = []
    for result in doc["falco_load_results"]:
        if not isinstance(result, dict):
            continue
        for severity, bucket in (("error", errors), ("warning", warnings)):
            for entry in result.get(f"{severity}s") or []:
                bucket.append(_message(severity, entry, str(result.get("name", "")), tmp_dir))
    return errors, warnings


def _message(severity: str, entry: Mapping, file_name: str, tmp_dir: str) -> FalcoMessage:
    locations = ((entry.get("context") or {}).get("locations")) or []
    # the innermost location in a file: a condition's own location is named by the condition's text
    # (rule_loader.cpp context for "condition expression"), not by a file
    in_files = [loc for loc in locations if str((loc.get("position") or {}).get("name", "")).startswith("/")]
    last = (in_files or locations or [{}])[-1]
    position = last.get("position") or {}
    named = [loc for loc in locations if loc.get("item_name")]
    item = _item(str(named[-1].get("item_type", "")), str(named[-1]["item_name"])) if named else ""
    name = str(position.get("name") or file_name)
    if tmp_dir and name.startswith(tmp_dir.rstrip("/") + "/"):
        name = name[len(tmp_dir.rstrip("/")) + 1 :]
    return FalcoMessage(
        severity,
        str(entry.get("code", "")),
        str(entry.get("message", "")),
        _short(name),
        int(position.get("line", 0) or 0) + 1,  # Falco's positions are 0-based (yaml-cpp marks)
        int(position.get("column", 0) or 0) + 1,
        item,
    )


def _error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("Error: ")]
    return lines[-1][len("Error: ") :] if lines else ""


def falco_validate_in_pod(run: Exec, pod: Mapping, files: Mapping[str, str]) -> ClusterVerdict:
    """Steps 1-4 of the module's docstring in one pod; never leaves the temp directory behind silently."""
    name = pod["metadata"]["name"]
    verdict = ClusterVerdict(version="", pod=name, node=(pod.get("spec") or {}).get("nodeName", ""))
    try:
        made = run(name, ["mktemp", "-d", TMP_TEMPLATE])
    except (ExecError, KubeError) as exc:
        verdict.problem = f"exec failed: {exc}"
        return verdict
    if made.exit_code != 0 or not made.stdout.strip().startswith("/tmp/"):
        why = made.stderr.strip() or f"exit code {made.exit_code}"
        verdict.problem = f"cannot create a temporary directory in /tmp: {why}"
        if "Read-only" in why:
            verdict.problem += (
                " (the pod's root filesystem is read-only and /tmp is not a volume: falcotui's DaemonSet "
                "mounts an emptyDir at /tmp; `falcotui apply` rolls it out)"
            )
        return verdict
    tmp_dir = verdict.tmp_dir = made.stdout.strip().splitlines()[0]
    verdict.cleaned = False
    try:
        paths = []
        for key in sorted(files):
            path = f"{tmp_dir}/{key}"
            text = files[key]
            chunks = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
            for i, chunk in enumerate(chunks):
                script = WRITE_SCRIPT if i == 0 else APPEND_SCRIPT
                wrote = run(name, ["sh", "-c", script, "sh", chunk, path])
                if wrote.exit_code != 0:
                    why = wrote.stderr.strip() or f"exit code {wrote.exit_code}"
                    verdict.problem = f"cannot write {path} in the pod: {why}"
                    return verdict
            paths.append(path)
        argv = [FALCO_BINARY]
        if (cfg := config_path(pod)) is not None:
            argv += ["-c", cfg]
        argv += ["-V", DEFAULT_RULES_PATH]
        for path in paths:
            argv += ["-V", path]
        argv += ["-o", "json_output=true"]
        result = run(name, argv)
        verdict.exit_code = result.exit_code
        parsed = parse_falco_json(result.stdout, tmp_dir)
        if parsed is not None:
            verdict.errors, verdict.warnings = parsed
        verdict.fatal = _error_line(result.stderr) if parsed is None or not verdict.errors else ""
        if result.exit_code == 0:
            verdict.ok = True
        elif result.exit_code == 1 and (parsed is not None or verdict.fatal):
            verdict.ok = False  # the rules (or their plugin requirements) were refused
        else:
            tail = (result.stderr.strip().splitlines() or [f"exit code {result.exit_code}"])[-1]
            verdict.problem = f"falco -V did not run: {tail}"
        return verdict
    except (ExecError, KubeError) as exc:
        verdict.problem = f"exec failed midway: {exc}"
        return verdict
    finally:
        _cleanup(run, verdict)


def _cleanup(run: Exec, verdict: ClusterVerdict) -> None:
    try:
        removed = run(verdict.pod, ["rm", "-rf", verdict.tmp_dir])
    except (ExecError, KubeError) as exc:
        verdict.cleanup_error = f"{verdict.tmp_dir} is left in pod {verdict.pod}: {exc}"
        return
    if removed.exit_code != 0:
        why = removed.stderr.strip() or f"exit code {removed.exit_code}"
        verdict.cleanup_error = f"{verdict.tmp_dir} is left in pod {verdict.pod}: {why}"
        return
    verdict.cleaned = True


def validate_in_cluster(
    service: RulesService,
    files: Mapping[str, str],
    *,
    defaults: str | None = None,
    timeout: float = 60.0,
) -> InClusterValidation:
    """Ask one Falco pod of each version present, in parallel, and put falcotui's verdict for that version
    beside each answer. Raises RulesError when exec is not allowed or no Falco pod runs."""
    if (denied := exec_permission(service.clients, service.namespace)) is not None:
        raise RulesError(denied)
    pods = service.falco_pods()
    chosen, none_running = pods_per_version(pods, service.logged_versions)
    if not chosen:
        raise RulesError(f"no running Falco pod in namespace {service.namespace} to validate with")
    ordered = {k: files[k] for k in sorted(files)}

    def run(pod: str, argv: list[str]) -> ExecResult:
        clients, namespace = service.clients, service.namespace
        return exec_command(clients, namespace, pod, argv, container=CONTAINER, timeout=timeout)

    def one(version: str, pod: dict) -> ClusterVerdict:
        verdict = falco_validate_in_pod(run, pod, ordered)
        verdict.version = version
        try:
            target = RulesTarget(dialect_for(version), {verdict.pod: version})
        except UnknownFalcoVersion:
            target = None
        try:
            verdict.ours = service.validate(ordered, defaults, target=target) if target else None
        except RulesError as exc:
            verdict.problem = verdict.problem or f"falcotui's own check failed: {exc}"
        return verdict

    with ThreadPoolExecutor(max_workers=min(4, len(chosen))) as pool:
        verdicts = list(pool.map(lambda item: one(*item), chosen.items()))
    note = ""
    if none_running:
        note = f"no running pod to ask for Falco {', '.join(none_running)}"
    return InClusterValidation(verdicts, note)
