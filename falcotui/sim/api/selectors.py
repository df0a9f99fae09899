"""Label and field selectors: `labelSelector=`/`fieldSelector=` strings and LabelSelector objects."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from falcotui.sim.api.errors import StoreError

Predicate = Callable[[dict], bool]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_KEY_RE = re.compile(rf"^{_KEY}$")
_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_SET_RE = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\((.*)\)\s*$")
_OP_RE = re.compile(rf"^\s*({_KEY})\s*(==|!=|=)\s*(.*?)\s*$")


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in (s.strip() for s in parts) if p]


def _check_value(v: str, text: str) -> str:
    if not _VALUE_RE.match(v) or len(v) > 63:
        raise StoreError(400, f'unable to parse requirement: invalid label value: "{v}" in "{text}"')
    return v


def parse_label_selector(text: str | None) -> Predicate | None:
    """`a=b,c!=d,e in (x,y),f notin (z),g,!h` -> predicate over a whole object; None when empty."""
    if not text or not text.strip():
        return None
    reqs: list[Callable[[Mapping[str, str]], bool]] = []
    for part in _split_top(text):
        if m := _SET_RE.match(part):
            key, op = m.group(1), m.group(3)
            values = {_check_value(v.strip(), text) for v in m.group(4).split(",") if v.strip()}
            if op == "in":
                reqs.append(lambda ls, k=key, vs=values: ls.get(k) in vs)
            else:
                reqs.append(lambda ls, k=key, vs=values: ls.get(k) not in vs)
        elif m := _OP_RE.match(part):
            key, op, value = m.group(1), m.group(3), _check_value(m.group(4), text)
            if op == "!=":
                reqs.append(lambda ls, k=key, v=value: ls.get(k) != v)
            else:
                reqs.append(lambda ls, k=key, v=value: ls.get(k) == v)
        elif part.startswith("!") and _KEY_RE.match(part[1:].strip()):
            neg = part[1:].strip()
            reqs.append(lambda ls, k=neg: k not in ls)
        elif _KEY_RE.match(part):
            reqs.append(lambda ls, k=part: k in ls)
        else:
            raise StoreError(
                400, f'unable to parse requirement: found "{part}", expected a label requirement'
            )

    def match(obj: dict) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r(labels) for r in reqs)

    return match


def match_label_selector(selector: Mapping | None, labels: Mapping[str, str] | None) -> bool:
    """A LabelSelector object (`matchLabels` + `matchExpressions`) against labels; empty selects all."""
    labels = labels or {}
    if not selector:
        return True
    if not isinstance(labels, Mapping) or not isinstance(selector, Mapping):
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping) or not isinstance(expressions, list):
        return False  # a malformed selector selects nothing
    for k, v in match_labels.items():
        if labels.get(k) != v:
            return False
    for expr in expressions:
        if not isinstance(expr, Mapping):
            return False
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def label_selector_string(selector: Mapping | None) -> str:
    """Render a LabelSelector object as the string form (`kubectl get -o wide` SELECTOR column)."""
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op in ("In", "NotIn"):
            parts.append(f"{key} {op.lower()} ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) or "<none>"


#: Field paths each resource accepts in a fieldSelector (metadata.name/namespace work everywhere).
FIELDS: dict[str, tuple[str, ...]] = {
    "pods": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "status.phase", "status.podIP", "status.nominatedNodeName"),
    "nodes": ("spec.unschedulable",),
    "events": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
               "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
               "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"),
    "secrets": ("type",),
    "namespaces": ("status.phase",),
}  # fmt: skip


def _field_value(obj: dict, path: str) -> str:
    if path == "source":
        return ((obj.get("source") or {}).get("component")) or ""
    cur: object = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return "" if cur is None else str(cur)


def parse_field_selector(text: str | None, resource: str) -> Predicate | None:
    """`metadata.name=x,spec.nodeName!=y` -> predicate; unknown fields are a 400 like the real server."""
    if not text or not text.strip():
        return None
    allowed = {"metadata.name", "metadata.namespace", *FIELDS.get(resource, ())}
    reqs: list[tuple[str, bool, str]] = []
    for part in _split_top(text):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if not m:
            raise StoreError(400, f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.groups()
        if field not in allowed:
            raise StoreError(400, f"field label not supported: {field}")
        reqs.append((field, op == "!=", value))

    def match(obj: dict) -> bool:
        for field, negate, value in reqs:
            if (_field_value(obj, field) == value) == negate:
                return False
        return True

    return match


def combine(*preds: Predicate | None) -> Predicate | None:
    active = [p for p in preds if p is not None]
    if not active:
        return None
    if len(active) == 1:
        return active[0]
    return lambda obj: all(p(obj) for p in active)
