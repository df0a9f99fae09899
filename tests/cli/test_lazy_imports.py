"""`falcotui --help`, `--version` and `rules lint` start without importing what they do not use.

Before: `import falcotui.cli` imported the Kubernetes client (whose typed APIs import pydantic models) and
`build_parser` imported every command module, so `--version` took ~0.45 s. The checks run in a fresh
interpreter (a real subprocess), since this test process has imported everything already.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

from falcotui import cli

HEAVY = (
    "kubernetes",
    "textual",
    "cryptography",
    "pydantic",
    "grpc",
    "falcotui.ops.deploy.deployer",
    "falcotui.ops.deploy.rollout",
    "falcotui.ops.deploy.uninstall",
)


def modules_after(code: str) -> list[str]:
    """Which of HEAVY a fresh interpreter has imported after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def test_importing_the_cli_imports_neither_kubernetes_nor_textual() -> None:
    assert modules_after("import falcotui.cli") == []


def test_building_the_parser_and_parsing_rules_lint_stays_light(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("- list: shells\n  items: [sh, bash]\n")
    argv = ["rules", "lint", str(rules)]
    code = f"from falcotui.cli import build_parser\nbuild_parser().parse_args({argv!r})"
    assert modules_after(code) == []


def test_rules_lint_runs_and_help_lists_every_command(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("- list: shells\n  items: [sh, bash]\n")
    lint = subprocess.run(
        [sys.executable, "-m", "falcotui", "rules", "lint", str(rules)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stderr
    assert "Ok" in lint.stdout
    helped = subprocess.run([sys.executable, "-m", "falcotui", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0
    for name, _module, help_line in cli.COMMANDS:
        assert f"    {name} " in helped.stdout
        assert help_line.split()[0] in helped.stdout


def test_each_listed_help_line_is_what_the_module_registers() -> None:
    modules = {module for _name, module, _help in cli.COMMANDS}
    for module in modules:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"falcotui.cli.{module}").register(sub)
        registered = {a.dest: a.help for a in sub._choices_actions}
        assert registered == {name: h for name, m, h in cli.COMMANDS if m == module}


def test_help_lists_the_commands_in_order_before_and_after_one_is_loaded() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, cli.LazySubParsers))
    listed = [a.dest for a in sub._choices_actions]
    assert listed == [name for name, _m, _h in cli.COMMANDS]
    sub.load("delete")
    assert [a.dest for a in sub._choices_actions] == listed
    assert set(sub.choices) == set(listed)


def test_a_typed_command_gets_its_real_parser() -> None:
    args = cli.build_parser().parse_args(["manifests", "render"])
    assert args.command == "manifests" and args.handler is not None
    args = cli.build_parser().parse_args(["delete", "--yes"])
    assert args.command == "delete" and args.handler is not None
