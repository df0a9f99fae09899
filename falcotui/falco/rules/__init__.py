"""Falco rules: the condition parser, the field catalog, output templates and the rules loader/validator."""

# The rules loader/validator's public API (the loader imports lazily so `rules.ast` stays light).
__all__ = [
    "DEFAULT_ENGINE_VERSION",
    "FileResult",
    "LoadResult",
    "Message",
    "ResolvedRule",
    "Severity",
    "load_rules",
]


def __getattr__(name: str) -> object:
    if name in ("DEFAULT_ENGINE_VERSION", "LoadResult", "ResolvedRule", "load_rules"):
        from falcotui.falco.rules import loader

        return getattr(loader, name)
    if name in ("FileResult", "Message", "Severity"):
        from falcotui.falco.rules import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
