"""`falcotui rules lint`: human and JSON output, exit codes, `--with` order, `--condition`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from falcotui.cli import main

GOOD = """\
- macro: shell_started
  condition: evt.type = execve and proc.name in (bash, sh)
- rule: Shell
  desc: a shell
  condition: shell_started and container.id != host
  output: shell %proc.name in %container.name
  priority: NOTICE
"""

BAD = """\
- rule: Shell
  desc: a shell
  condition: spawned_process and container and proc.nmae = bash or proc.name = sh
  output: shell %proc.name
  priority: NOTICE
"""


@pytest.fixture
def files(tmp_path: Path, shared_data: Path) -> dict[str, Path]:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    return {"good": good, "bad": bad, "defaults": shared_data / "falco_rules.yaml"}


def test_clean_file_exits_zero_with_summary(files: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["rules", "lint", str(files["good"])]) == 0
    out = capsys.readouterr().out
    assert f"{files['good']}: Ok" in out
    assert out.rstrip().endswith("0 errors, 0 warnings, 0 falcotui lints in 1 file")


def test_errors_print_file_line_col_code_and_a_caret(
    files: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    assert main(["rules", "lint", "--with", str(files["defaults"]), str(files["bad"])]) == 1
    lines = capsys.readouterr().out.splitlines()
    src = BAD.splitlines()[2]
    col = src.index("proc.nmae") + 1
    head = f"{files['bad']}:3:{col}: error LOAD_ERR_COMPILE_CONDITION: filter_check called with nonexistent"
    i = next(i for i, line in enumerate(lines) if line.startswith(head))
    assert lines[i + 1] == "    " + src
    assert lines[i + 2] == "    " + " " * (col - 1) + "^"
    assert any("FALCOTUI_MIXED_AND_OR (falcotui lint)" in line for line in lines)
    assert f"{files['defaults']}: Ok" in lines
    assert f"{files['bad']}: Invalid" in lines
    assert lines[-1] == "1 error, 0 warnings, 2 falcotui lints in 2 files"


def test_load_order_matters_like_falco_dash_v(files: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    # Without the default rules first, `spawned_process` and `container` are undefined macros.
    assert main(["rules", "lint", str(files["bad"])]) == 1
    out = capsys.readouterr().out
    assert "error LOAD_ERR_VALIDATE: Undefined macro 'spawned_process' used in filter." in out


def test_json_output_has_falco_shape_and_separate_lints(
    files: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    assert main(["rules", "lint", "--json", "--with", str(files["defaults"]), str(files["bad"])]) == 1
    doc = json.loads(capsys.readouterr().out)
    results = doc["falco_load_results"]
    assert [r["name"] for r in results] == [str(files["defaults"]), str(files["bad"])]
    assert [r["successful"] for r in results] == [True, False]
    (err,) = results[1]["errors"]
    assert err["code"] == "LOAD_ERR_COMPILE_CONDITION"
    assert err["context"]["locations"][-1]["position"]["line"] == 2  # 0-based, as Falco prints
    assert {lint["code"] for lint in doc["falcotui_lints"]} == {
        "FALCOTUI_MIXED_AND_OR",
        "FALCOTUI_GUARD_ESCAPE",
    }
    assert all(lint["file"] == str(files["bad"]) for lint in doc["falcotui_lints"])


def test_no_lints_flag(files: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert (
        main(["rules", "lint", "--no-lints", "--json", "--with", str(files["defaults"]), str(files["bad"])])
        == 1
    )
    assert "falcotui_lints" not in json.loads(capsys.readouterr().out)


def test_condition_mode(capsys: pytest.CaptureFixture, shared_data: Path) -> None:
    defaults = str(shared_data / "falco_rules.yaml")
    expr_ok = "spawned_process and proc.name in (bash, sh)"
    assert main(["rules", "lint", "--with", defaults, "--condition", expr_ok]) == 0
    assert capsys.readouterr().out == "condition: Ok\n"
    expr = "proc.name = bash and (fd.num > 0"
    assert main(["rules", "lint", "--condition", expr]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"condition:1:{len(expr) + 1}: error LOAD_ERR_COMPILE_CONDITION: ")
    assert out[1:3] == ["    " + expr, "    " + " " * len(expr) + "^"]
    assert out[-1] == "condition: Invalid"
    assert main(["rules", "lint", "--json", "--condition", "a b"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["successful"] is False and doc["error"]["column"] == 3


def test_condition_mode_checks_fields_macros_and_runs_the_lints(
    capsys: pytest.CaptureFixture, shared_data: Path
) -> None:
    """Issue 17 item 4: `--condition 'container and proc.nme = sh'` used to print Ok (syntax only)."""
    defaults = str(shared_data / "falco_rules.yaml")
    assert main(["rules", "lint", "--with", defaults, "--condition", "container and proc.nme = sh"]) == 1
    out = capsys.readouterr().out
    field_error = "error LOAD_ERR_COMPILE_CONDITION: filter_check called with nonexistent field proc.nme"
    assert f"condition:1:15: {field_error}" in out
    assert out.endswith("condition: Invalid\n")

    trap = "container and proc.name = sh or proc.name = bash"
    assert main(["rules", "lint", "--with", defaults, "--condition", trap]) == 0
    out = capsys.readouterr().out
    assert "warning FALCOTUI_MIXED_AND_OR (falcotui lint)" in out and "FALCOTUI_GUARD_ESCAPE" in out
    assert out.endswith("condition: Ok, with warnings\n")

    # without the default rules, a macro they define is undefined, and the message says how to load them
    assert main(["rules", "lint", "--condition", "container and proc.name = sh"]) == 1
    out = capsys.readouterr().out
    assert "Undefined macro 'container'" in out and "give --with falco_rules.yaml" in out

    assert main(["rules", "lint", "--json", "--with", defaults, "--condition", trap]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["successful"] is True
    assert {m["code"] for m in doc["falcotui_lints"]} >= {"FALCOTUI_MIXED_AND_OR", "FALCOTUI_GUARD_ESCAPE"}


def test_linting_a_pulled_directory_ignores_markers_and_loads_the_pulled_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture, shared_data: Path
) -> None:
    """Issue 17 item 3: `rules lint DIR` after `rules pull` linted the .falcotui-rv marker ("not yaml") and
    called working rules invalid for want of the default macros."""
    pulled = tmp_path / "falco-rules"
    (pulled / ".falco-image").mkdir(parents=True)
    (pulled / ".falco-image" / "falco_rules.yaml").write_text((shared_data / "falco_rules.yaml").read_text())
    (pulled / ".falcotui-rv").write_text("1234\n")
    (pulled / ".falcotui-pulled").write_text("{}\n")
    (pulled / "custom-rules.yaml").write_text(
        "- rule: shell in container\n  desc: d\n"
        "  condition: spawned_process and container and proc.name = sh\n"
        "  output: shell (proc.cmdline=%proc.cmdline)\n  priority: WARNING\n"
    )
    assert main(["rules", "lint", str(pulled)]) == 0
    captured = capsys.readouterr()
    assert "custom-rules.yaml: Ok" in captured.out
    assert ".falcotui-rv" not in captured.out and ".falcotui-pulled" not in captured.out
    assert "falco_rules.yaml: Ok" in captured.out  # loaded first, not linted as ours
    assert "loading" in captured.err and ".falco-image/falco_rules.yaml" in captured.err


def test_unreadable_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["rules", "lint", str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    assert "cannot read" in err and "missing.yaml" in err and "Traceback" not in err


def test_directories_load_their_files_in_name_order(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rules_d = tmp_path / "rules.d"
    rules_d.mkdir()
    (rules_d / "20-rule.yaml").write_text(GOOD.split("- rule:")[0].replace("shell_started", "unused_one"))
    (rules_d / "10-macro.yaml").write_text(GOOD)
    assert main(["rules", "lint", str(rules_d)]) == 0
    out = capsys.readouterr().out
    assert out.index("10-macro.yaml: Ok") < out.index("20-rule.yaml: Ok")
    assert "LOAD_UNUSED_MACRO" in out and "20-rule.yaml:1:3" in out


def test_real_subprocess_exit_codes(files: dict[str, Path], repo_root: Path) -> None:
    exe = repo_root / ".venv" / "bin" / "falcotui"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "falcotui"]
    ok = subprocess.run(
        [*cmd, "rules", "lint", str(files["good"])], capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [*cmd, "rules", "lint", "--with", str(files["defaults"]), str(files["bad"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "LOAD_ERR_COMPILE_CONDITION" in bad.stdout
    cond = subprocess.run(
        [*cmd, "rules", "lint", "--condition", "a and"], capture_output=True, text=True, timeout=60
    )
    assert cond.returncode == 1 and cond.stdout.startswith("condition:1:")
