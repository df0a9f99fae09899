"""What a simulated Falco container is told to do: its image version, command line, merged falco.yaml
and the rules files that configuration names, read from the container's files.

The simulated image carries the real /etc/falco files of its Falco release (`falcotui.falco.image`: the
image's falco.yaml, its config.d drop-ins, the default rules); mounted volumes shadow them path by path,
as a real mount would. Configuration loading itself is `falcotui.falco.config_loader`, which follows
Falco's configuration.cpp.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from falcotui.falco.config_loader import ConfigError, LoadedConfig, dir_files, is_dir
from falcotui.falco.config_loader import load_config as load_falco_config
from falcotui.falco.image import (
    IMAGE_CONFIG_PATH,
    IMAGE_RULES_DIR,
    IMAGE_RULES_PATH,
    config_schema,
    container_plugin_version,
    default_rules,
    engine_kinds,
    image_etc_files,
    image_release,
)

FALCO_REPOSITORIES = ("falcosecurity/falco", "docker.io/falcosecurity/falco")
DEFAULT_CONFIG_PATH = IMAGE_CONFIG_PATH
DEFAULT_RULES_PATH = IMAGE_RULES_PATH
#: Directories the image creates, so they exist even when empty (the Dockerfile's /etc/falco tree). In a
#: container's file map a directory is a key ending in "/" (empty text), so a mount hides it like a file.
#: /tmp comes from the base image: wolfi-base's wolfi-baselayout creates it (wolfi-dev/os
#: wolfi-baselayout.yaml); the Falco Dockerfile builds `FROM cgr.dev/chainguard/wolfi-base`.
IMAGE_DIRS = ("/etc/falco/", "/etc/falco/config.d/", IMAGE_RULES_DIR + "/", "/tmp/")

#: Falco's fatal configuration errors (printed after `Error: `, exit 1) are the loader's ConfigError.
FalcoStartupError = ConfigError
#: The merged configuration a simulated Falco runs with.
FalcoConfig = LoadedConfig


@dataclass(frozen=True, slots=True)
class FalcoVersion:
    major: int
    minor: int
    patch: int

    @property
    def text(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def has_grpc(self) -> bool:
        """gRPC output and server were removed in 0.44.0."""
        return (self.major, self.minor) < (0, 44)

    @property
    def release(self) -> str:
        """The upstream snapshot whose image files this version ships (falcotui.falco.image)."""
        return image_release((self.major, self.minor))

    @property
    def container_plugin(self) -> str:
        return container_plugin_version(self.release)


_IMAGE_RE = re.compile(r"^(?P<repo>[^@]+?)(?::(?P<tag>[A-Za-z0-9_.-]+))?(?:@sha256:[0-9a-f]+)?$")
_TAG_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def falco_image_version(image: str) -> FalcoVersion | None:
    """The Falco version an image reference runs, or None if it is not a Falco image we simulate."""
    m = _IMAGE_RE.match(image.strip())
    if not m or m.group("repo") not in FALCO_REPOSITORIES:
        return None
    tag = m.group("tag") or "0.45.0"
    v = _TAG_RE.match(tag)
    if not v:
        return FalcoVersion(0, 45, 0)
    return FalcoVersion(int(v.group(1)), int(v.group(2)), int(v.group(3)))


@dataclass(slots=True)
class FalcoArgs:
    config_path: str = DEFAULT_CONFIG_PATH
    options: list[str] = field(default_factory=list)  # -o key=value, as given
    rules_files: list[str] = field(default_factory=list)  # -r, overrides rules_files
    validate: list[str] = field(default_factory=list)  # -V
    unbuffered: bool = False
    version: bool = False
    disabled_sources: list[str] = field(default_factory=list)


_FLAGS_WITH_VALUE = {"-c", "-o", "--option", "-r", "-V", "--validate", "--disable-source", "--pidfile", "-M"}
_FLAGS = {"-U", "--unbuffered", "--version", "-A", "--dry-run", "--support", "--list", "-L", "--nodriver"}


def parse_args(argv: list[str]) -> FalcoArgs:
    """Falco's command line (the leading `falco`/`/usr/bin/falco` word is optional)."""
    args = list(argv)
    if args and posixpath.basename(args[0]) == "falco":
        args = args[1:]
    out = FalcoArgs()
    i = 0
    while i < len(args):
        arg = args[i]
        value: str | None = None
        name = arg
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
        elif (
            arg.startswith("-") and not arg.startswith("--") and len(arg) > 2 and arg[:2] in _FLAGS_WITH_VALUE
        ):
            name, value = arg[:2], arg[2:]
        if name in _FLAGS_WITH_VALUE:
            if value is None:
                if i + 1 >= len(args):
                    raise FalcoStartupError(
                        f"Error parsing options: Option '{name.lstrip('-')}' is missing an argument"
                    )
                value = args[i + 1]
                i += 1
            _apply_flag(out, name, value)
        elif name in _FLAGS:
            if name in ("-U", "--unbuffered"):
                out.unbuffered = True
            elif name == "--version":
                out.version = True
        else:
            raise FalcoStartupError(f"Error parsing options: Option '{name.lstrip('-')}' does not exist")
        i += 1
    return out


def _apply_flag(out: FalcoArgs, name: str, value: str) -> None:
    if name == "-c":
        out.config_path = value
    elif name in ("-o", "--option"):
        out.options.append(value)  # checked where Falco checks it (configuration.cpp set_cmdline_option)
    elif name == "-r":
        out.rules_files.append(value)
    elif name in ("-V", "--validate"):
        out.validate.append(value)
    elif name == "--disable-source":
        out.disabled_sources.append(value)


def image_files(version: FalcoVersion, rules: str | None = None) -> dict[str, str]:
    """The files the simulated image of `version` ships below /etc/falco, before any volume is mounted
    (`rules` replaces the default falco_rules.yaml, for tests that need another ruleset)."""
    files = dict.fromkeys(IMAGE_DIRS, "")
    files.update(image_etc_files(version.release))
    if rules is not None:
        files[DEFAULT_RULES_PATH] = rules
    return files


def bundled_default_rules() -> str:
    """The image's /etc/falco/falco_rules.yaml (the verbatim falcosecurity/rules copy)."""
    return default_rules()


def container_files(image: Mapping[str, str], mounted: Mapping[str, str]) -> dict[str, str]:
    """The container's filesystem: a mount hides every image file below its mount point.

    Mount points are not known to the runtime, only the mounted files; a mounted file's directory is
    treated as a mount point (as a ConfigMap volume is).
    """
    mount_dirs = {posixpath.dirname(p).rstrip("/") + "/" for p in mounted}
    files = {p: c for p, c in image.items() if not any(p.startswith(d) for d in mount_dirs)}
    files.update(mounted)
    return files


def list_dir(files: Mapping[str, str], directory: str) -> list[str]:
    """Regular files directly inside `directory`, in lexical order (ConfigMap `..data` entries skipped)."""
    return dir_files(files, directory)


def load_config(files: Mapping[str, str], args: FalcoArgs, version: FalcoVersion) -> FalcoConfig:
    """Falco's configuration from `-c` (default /etc/falco/falco.yaml) and `-o`, validated against the
    schema of the image's release."""
    return load_falco_config(
        files,
        args.config_path,
        args.options,
        schema=config_schema(version.release),
        engine_kinds=engine_kinds(version.release),
    )


def rules_paths(config: FalcoConfig, args: FalcoArgs) -> list[str]:
    """The rules files and directories Falco loads: `-r` replaces `rules_files`; configured entries that
    do not exist were already dropped (load_rules_files.cpp)."""
    paths = list(args.rules_files) if args.rules_files else list(config.rules_files)
    if not paths:
        raise FalcoStartupError(
            "You must specify at least one rules file/directory via -r or a rules_file entry in falco.yaml"
        )
    return paths


def _yaml_name(path: str) -> bool:
    # falco::utils::matches_wildcard("*.yaml") / ("*.yml"): only YAML files are rules files
    return path.endswith((".yaml", ".yml"))


def resolve_rules_files(files: Mapping[str, str], paths: list[str]) -> list[str]:
    """Each path as configuration.cpp read_rules_file_directory expands it: a directory's regular
    `*.yaml`/`*.yml` files in sorted order, a file as is if its name is YAML; no globs."""
    resolved: list[str] = []
    for path in paths:
        if is_dir(files, path) and path not in files:
            resolved.extend(p for p in dir_files(files, path) if _yaml_name(p))
        elif _yaml_name(path):
            if path not in files:  # read_files (load_rules_files.cpp) cannot open it: only with -r
                raise FalcoStartupError(f"Could not read rules file {path}: No such file or directory")
            resolved.append(path)
    return resolved
