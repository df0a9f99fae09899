"""Rules input is UTF-8 text no larger than a ConfigMap holds, and YAML reader errors carry their position
(`rules lint` as a real subprocess and in process; issue 13, finding 7)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from falcotui.cli import main
from falcotui.falco.rules.loader import load_rules
from falcotui.falco.rules.rules_input import CONFIGMAP_MAX_BYTES, RulesBudget, RulesInputError, decode_rules

RULE = "- rule: r\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: NOTICE\n"


def test_non_utf8_is_an_error_with_its_line_column_and_byte_offset(tmp_path: Path, capsys) -> None:
    data = RULE.replace("desc: d", "desc: caf\xe9 ok").encode("latin-1")
    path = tmp_path / "latin1.yaml"
    path.write_bytes(data)
    offset = data.index(b"\xe9")
    assert main(["rules", "lint", str(path)]) == 1
    captured = capsys.readouterr()
    assert ": Ok" not in captured.out
    assert f"{path}:2:12: not UTF-8: byte 0xe9 at byte offset {offset}" in captured.err


def test_decode_counts_columns_in_characters() -> None:
    with pytest.raises(RulesInputError) as info:
        decode_rules("a: b\nxé: \u20ac".encode() + b"\xff", "f")
    assert (info.value.line, info.value.column, info.value.offset) == (2, 6, 13)


def test_dev_zero_and_a_huge_file_stop_at_the_configmap_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(RULE + ("# " + "x" * 1021 + "\n") * 50 * 1024)  # 50 MiB of valid YAML
    for target in ("/dev/zero", str(big)):
        proc = subprocess.run(
            [sys.executable, "-m", "falcotui", "rules", "lint", target],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
        assert f"data cannot exceed {CONFIGMAP_MAX_BYTES} bytes (1 MiB)" in proc.stderr
        assert "nothing was parsed" in proc.stderr


def test_the_limit_is_shared_by_the_files_of_one_configmap(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_bytes(b"#" * (CONFIGMAP_MAX_BYTES - 10) + b"\n")
    b.write_bytes(b"# twenty bytes long\n")
    budget = RulesBudget()
    budget.read_file(a)
    with pytest.raises(RulesInputError, match="with the files before it"):
        budget.read_file(b)
    assert RulesBudget().read_file(b) == "# twenty bytes long\n"


def test_reader_errors_report_their_real_line_and_column(tmp_path: Path, capsys) -> None:
    text = RULE.replace("output: o", "output: \u00e9\u00e9 \x01 bell")
    result = load_rules([("f.yaml", text)])
    (err,) = result.errors
    assert err.code == "LOAD_ERR_YAML_PARSE"
    assert (err.line, err.column) == (4, 14)
    assert "line 4, column 14" in err.text and "U+0001" in err.text

    path = tmp_path / "ctl.yaml"
    path.write_text(text)
    assert main(["rules", "lint", "--json", str(path)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert "line 4, column 14" in json.dumps(doc)


def test_a_lone_surrogate_is_a_positioned_error_not_a_crash() -> None:
    text = RULE.replace("desc: d", "desc: \ud800")
    (err,) = load_rules([("f.yaml", text)]).errors
    assert (err.line, err.column) == (2, 9) and "U+D800" in err.text
