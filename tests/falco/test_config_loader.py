"""Falco's configuration loading (configuration.cpp, yaml_helper.h) over the real image files."""

from __future__ import annotations

import pytest
import yaml

from falcotui.falco.config_loader import ConfigError, load_config
from falcotui.falco.image import config_schema, image_config_files

MAIN = "/etc/falco-config/falco.yaml"


def _load(files: dict[str, str], options: list[str] | None = None, release: str = "main-2026-07-31"):
    return load_config(files, MAIN, options or [], schema=config_schema(release))


def test_the_images_own_files_load_clean_with_the_plugin_and_suggested_output() -> None:
    for release in ("0.43.1", "0.44.1", "main-2026-07-31"):
        files = image_config_files(release)
        loaded = load_config(files, "/etc/falco/falco.yaml", schema=config_schema(release))
        assert set(loaded.validation.values()) == {"ok"}
        assert [p.library_path for p in loaded.plugins] == ["/usr/share/falco/plugins/libcontainer.so"]
        assert loaded.data["load_plugins"] == ["container"]  # [] appended with the drop-in's [container]
        assert loaded.flag("time_format_iso_8601", False)  # the iso8601 drop-in overrides the scalar
        extra = loaded.extra_output("any rule", "syscall", ())
        assert extra == [
            "container_id=%container.id",
            "container_name=%container.name",
            "container_image_repository=%container.image.repository",
            "container_image_tag=%container.image.tag",
            "k8s_pod_name=%k8s.pod.name",
            "k8s_ns_name=%k8s.ns.name",
        ]


def test_strategies_append_override_add_only() -> None:
    main = {
        "config_files": [
            "/d/a.yaml",
            {"path": "/d/b.yaml", "strategy": "override"},
            {"path": "/d/c.yaml", "strategy": "add-only"},
        ],
        "rules_files": ["/r1"],
        "webserver": {"enabled": True, "listen_port": 8765},
        "priority": "debug",
    }
    files = {
        MAIN: yaml.safe_dump(main),
        "/d/a.yaml": "rules_files: [/r2]\npriority: info\nwebserver: {enabled: false}\n",
        "/d/b.yaml": "rules_files: [/r3]\n",
        "/d/c.yaml": "priority: error\nlog_level: debug\n",
    }
    loaded = load_config(files, MAIN)
    assert loaded.data["rules_files"] == ["/r3"]  # appended by a, replaced by b
    assert loaded.data["priority"] == "info"  # overridden by a, kept by add-only c
    assert loaded.data["webserver"] == {"enabled": False}  # top-level keys only: maps are replaced whole
    assert loaded.data["log_level"] == "debug"  # add-only adds new keys
    assert list(loaded.validation) == [MAIN, "/d/a.yaml", "/d/b.yaml", "/d/c.yaml"]


def test_a_folder_loads_every_regular_file_sorted_and_missing_entries_are_skipped() -> None:
    files = {
        MAIN: "config_files: [/nope.yaml, /d]\nload_plugins: []\n",
        "/d/b.conf": "load_plugins: [b]\n",
        "/d/a.yaml": "load_plugins: [a]\n",
        "/d/..data/a.yaml": "load_plugins: [hidden]\n",
        "/d/sub/c.yaml": "load_plugins: [c]\n",
    }
    with pytest.raises(ConfigError, match="Cannot load plugin 'a': plugin config not found for given name"):
        load_config(files, MAIN)
    files[MAIN] += (
        "plugins:\n  - {name: a, library_path: liba.so}\n  - {name: b, library_path: /opt/libb.so}\n"
    )
    loaded = load_config(files, MAIN)
    assert [(p.name, p.library_path) for p in loaded.plugins] == [
        ("a", "/usr/share/falco/plugins/liba.so"),
        ("b", "/opt/libb.so"),
    ]
    assert loaded.validation_lines()[1:] == [
        f"   {p} | schema validation: none" for p in ("/d/a.yaml", "/d/b.conf", MAIN)
    ]


def test_nested_includes_and_self_includes_are_errors() -> None:
    files = {MAIN: "config_files: [/d]\n", "/d/x.yaml": "config_files: [/e]\n"}
    with pytest.raises(
        ConfigError, match=r"^Config error: 'config_files' directive in included config file /d/x"
    ):
        load_config(files, MAIN)
    with pytest.raises(ConfigError, match="tried to recursively include main config file"):
        load_config({MAIN: f"config_files: [{MAIN}]\n"}, MAIN)


def test_schema_failures_are_reported_not_fatal() -> None:
    files = {MAIN: "rules_files: [/r]\noutputs: [{output: json_output}]\n", "/r": ""}
    loaded = _load(files)
    assert loaded.validation[MAIN] == (
        "failed for <root>: Object contains a property that could not be validated using 'properties' or "
        "'additionalProperties' constraints: 'outputs'."
    )
    assert _load({MAIN: "json_output: 5\n"}).validation[MAIN].startswith("failed for <root>[json_output]: ")


def test_dash_o_options_come_last_and_config_files_options_first() -> None:
    files = {
        MAIN: "config_files: [/a.yaml]\npriority: debug\n",
        "/a.yaml": "priority: info\n",
        "/b.yaml": "x: 1\n",
    }
    loaded = load_config(
        files,
        MAIN,
        [
            "priority=error",
            "webserver.listen_port=9000",
            "rules_files[]=/x",
            "config_files=/b.yaml",
            "m={a: 1}",
        ],
    )
    assert loaded.data["priority"] == "error"
    assert loaded.data["webserver"] == {"listen_port": 9000}
    assert loaded.data["rules_files"] == ["/x"]
    assert list(loaded.validation) == [MAIN, "/b.yaml"]  # -o config_files replaced the file's list
    assert loaded.data["m"] == {"a": 1}
    with pytest.raises(ConfigError, match="Must be of the form key=val"):
        load_config(files, MAIN, ["novalue"])


def test_append_output_matches_source_tags_and_rule() -> None:
    files = {
        MAIN: yaml.safe_dump(
            {
                "append_output": [
                    {"match": {"tags": ["shell"]}, "extra_output": "on=%evt.type"},
                    {"match": {"rule": "R2"}, "extra_fields": [{"pid": "%proc.pid"}, "proc.name"]},
                    {"match": {"source": "k8s_audit"}, "extra_output": "never"},
                ]
            }
        )
    }
    loaded = load_config(files, MAIN)
    assert loaded.extra_output("R1", "syscall", {"shell", "x"}) == ["on=%evt.type"]
    assert loaded.extra_output("R1", "syscall", {"x"}) == []
    assert loaded.extra_fields("R2", "syscall", ()) == [("pid", "%proc.pid"), ("proc.name", None)]
    # suggested output without the container plugin loaded suggests nothing
    assert (
        load_config({MAIN: "append_output: [{suggested_output: true}]\n"}, MAIN).extra_output(
            "R", "syscall", ()
        )
        == []
    )
