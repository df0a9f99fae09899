"""What the Falco container image carries in /etc/falco, per Falco release: its default falco.yaml, its
config.d drop-ins, its config JSON schema and its default rules, read from the verbatim upstream copies in
`falcotui/falco/upstream/` (see SOURCE.md there), plus the few facts about the image that live in
upstream source rather than in a file (each cited beside it)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml

ETC_FALCO = "/etc/falco"
IMAGE_CONFIG_PATH = "/etc/falco/falco.yaml"
IMAGE_CONFIG_DIR = "/etc/falco/config.d"
IMAGE_RULES_PATH = "/etc/falco/falco_rules.yaml"
IMAGE_LOCAL_RULES_PATH = "/etc/falco/falco_rules.local.yaml"
IMAGE_RULES_DIR = "/etc/falco/rules.d"
#: falcosecurity/falco cmake/modules/rules.cmake: the build writes falco_rules.local.yaml with exactly this
#: text ("# Your custom rules!\n"); the image installs it next to falco_rules.yaml.
IMAGE_LOCAL_RULES = "# Your custom rules!\n"
#: falcosecurity/falco userspace/falco/config_falco.h.in FALCO_ENGINE_PLUGINS_DIR: where a relative
#: `library_path` resolves (configuration.h, convert<plugin_config>::decode).
PLUGINS_DIR = "/usr/share/falco/plugins"

#: Which upstream snapshot stands for which Falco release line. The data holds the image files of 0.43.1,
#: 0.44.1 and the master branch of 2026-07-31, from which 0.45.0 was cut; a patch release of a line
#: ships the same /etc/falco files as the snapshot of that line here. Releases before 0.43 are not held:
#: they are simulated with the 0.43.1 files (a known difference from those old images).
_RELEASES = (((0, 45), "main-2026-07-31"), ((0, 44), "0.44.1"), ((0, 0), "0.43.1"))

#: The container plugin each release bundles: falcosecurity/falco CMakeLists.txt `CONTAINER_VERSION`
#: (0.6.4 at tag 0.43.1, 0.7.1 at tag 0.44.1 and on master of 2026-07-31).
_CONTAINER_PLUGIN = {"0.43.1": "0.6.4", "0.44.1": "0.7.1", "main-2026-07-31": "0.7.1"}

#: `engine.kind` values each release accepts: configuration.cpp load_engine_config, engine_mode_lut (0.44.0
#: removed the legacy eBPF probe and gVisor).
_ENGINE_KINDS_0_44 = frozenset({"kmod", "modern_ebpf", "replay", "nodriver"})
_ENGINE_KINDS = {
    "0.43.1": _ENGINE_KINDS_0_44 | {"ebpf", "gvisor"},
    "0.44.1": _ENGINE_KINDS_0_44,
    "main-2026-07-31": _ENGINE_KINDS_0_44,
}
#: The plugin libraries the image installs in PLUGINS_DIR: the image's falco.yaml defines only the
#: container plugin (`library_path: libcontainer.so`); no other plugin library is known to be shipped.
IMAGE_PLUGIN_LIBRARIES = frozenset({f"{PLUGINS_DIR}/libcontainer.so"})
CONTAINER_PLUGIN_LIBRARY = f"{PLUGINS_DIR}/libcontainer.so"

#: The container plugin's fields flagged "use as suggested output format" (falcosecurity/plugins
#: plugins/container/src/caps/extract/extract.cpp, identical in v0.6.4 and v0.7.1), in the plugin's field
#: order. With `append_output: [{suggested_output: true}]` Falco appends `<name with _ for .>=%<name>`
#: for each of them to every rule's output (userspace/falco/app/actions/init_falco_engine.cpp,
#: format_suggested_field / add_suggested_output). No libsinsp syscall field carries the flag (only
#: `static_fields`, sinsp_filtercheck_static.cpp).
CONTAINER_SUGGESTED_FIELDS = (
    "container.id",
    "container.name",
    "container.image.repository",
    "container.image.tag",
    "k8s.pod.name",
    "k8s.ns.name",
)


def upstream_dir() -> Traversable:
    return resources.files("falcotui.falco") / "upstream"


def image_release(version: tuple[int, int]) -> str:
    """The upstream snapshot whose /etc/falco files a Falco `(major, minor)` release ships."""
    for floor, name in _RELEASES:
        if version >= floor:
            return name
    return _RELEASES[-1][1]


def container_plugin_version(release: str) -> str:
    return _CONTAINER_PLUGIN[release]


def engine_kinds(release: str) -> frozenset[str]:
    return _ENGINE_KINDS[release]


@lru_cache(maxsize=8)
def image_config_files(release: str) -> dict[str, str]:
    """`/etc/falco/falco.yaml` and every `/etc/falco/config.d/*` file of that release's image."""
    base = upstream_dir() / "falco_image" / release
    files = {IMAGE_CONFIG_PATH: (base / "falco.yaml").read_text(encoding="utf-8")}
    for f in sorted((base / "config.d").iterdir(), key=lambda t: t.name):
        files[f"{IMAGE_CONFIG_DIR}/{f.name}"] = f.read_text(encoding="utf-8")
    return files


@lru_cache(maxsize=8)
def config_schema(release: str) -> dict[str, Any]:
    """Falco's configuration JSON schema of that release (`falco --config-schema`)."""
    return json.loads((upstream_dir() / "falco_image" / release / "config_schema.json").read_text("utf-8"))


@lru_cache(maxsize=1)
def default_rules() -> str:
    """The image's `/etc/falco/falco_rules.yaml` (falcosecurity/rules)."""
    return (upstream_dir() / "falco_rules.yaml").read_text(encoding="utf-8")


def image_etc_files(release: str) -> dict[str, str]:
    """Every file the image has below /etc/falco."""
    return {
        **image_config_files(release),
        IMAGE_RULES_PATH: default_rules(),
        IMAGE_LOCAL_RULES_PATH: IMAGE_LOCAL_RULES,
    }


def image_plugin_settings(release: str) -> str:
    """The `plugins:` and `append_output:` sections of the image's falco.yaml, as YAML text: what a
    falco.yaml replacing the image's must carry for the config.d drop-in's `load_plugins: [container]` to
    resolve and for alerts to get the container plugin's suggested fields."""
    doc = yaml.safe_load(image_config_files(release)[IMAGE_CONFIG_PATH])
    return yaml.safe_dump({"plugins": doc["plugins"], "append_output": doc["append_output"]}, sort_keys=False)
