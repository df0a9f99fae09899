"""The simulated container's exec commands: busybox applets and `sh -c` simple commands against a filesystem
with read-only mounts and root, and `falco -V` answering the way validate_rules_files.cpp does (summary on
stdout, `Error: <summary>` on stderr and exit 1 when a file is invalid, only `Ok, with warnings` on stdout
for a valid file with warnings)."""

from __future__ import annotations

from falcotui.sim.falco.config import FalcoVersion, image_files
from falcotui.sim.falco.startup import run_falco_cli
from falcotui.sim.nodes.container_commands import run
from falcotui.sim.nodes.container_fs import ContainerFs

VERSION = FalcoVersion(0, 45, 0)
BROKEN = "- rule: broken rule\n  desc: has no condition\n  output: x\n  priority: WARNING\n"
WARNS = """
- rule: Open of a file
  desc: no event type
  condition: fd.name = /etc/x
  output: opened (file=%fd.name)
  priority: WARNING
"""


def fs(**kw) -> ContainerFs:
    base = {**image_files(VERSION), "/etc/falco/rules.d/custom.yaml": "[]"}
    return ContainerFs(lambda: base, {"/etc/falco/rules.d": False, "/tmp": True}, **kw)


def falco(files):
    return lambda argv, view: run_falco_cli(VERSION, view, argv)


def test_mktemp_write_list_remove() -> None:
    box = fs(read_only_root=True)
    code, out, err = run(["mktemp", "-d", "/tmp/falcotui-validate.XXXXXX"], box)
    assert code == 0 and err == "" and out.startswith("/tmp/falcotui-validate.")
    d = out.strip()
    assert len(d) == len("/tmp/falcotui-validate.XXXXXX")
    script = 'printf %s "$1" > "$2"'
    assert run(["sh", "-c", script, "sh", "a: 1\n", f"{d}/x.yaml"], box)[0] == 0
    assert run(["sh", "-c", 'printf %s "$1" >> "$2"', "sh", "b: 2\n", f"{d}/x.yaml"], box)[0] == 0
    assert run(["cat", f"{d}/x.yaml"], box) == (0, "a: 1\nb: 2\n", "")
    assert run(["ls", "-a", d], box) == (0, ".\n..\nx.yaml\n", "")
    assert run(["rm", "-rf", d], box) == (0, "", "")
    assert run(["ls", "-a", "/tmp"], box) == (0, ".\n..\n", "")
    assert run(["ls", d], box)[0] == 1


def test_read_only_places_refuse_writes() -> None:
    box = fs(read_only_root=True)
    code, _, err = run(["mktemp", "-d", "/var/falcotui.XXXXXX"], box)
    assert code == 1 and err in ("mktemp: No such file or directory\n", "mktemp: Read-only file system\n")
    code, _, err = run(["sh", "-c", 'printf %s x > "$1"', "sh", "/etc/falco/rules.d/evil.yaml"], box)
    assert code == 2 and err == "sh: can't create /etc/falco/rules.d/evil.yaml: Read-only file system\n"
    code, _, err = run(["sh", "-c", 'printf %s x > "$1"', "sh", "/etc/falco/new.yaml"], box)
    assert code == 2 and "Read-only file system" in err
    code, _, err = run(["rm", "-f", "/etc/falco/falco.yaml"], box)
    assert code == 1 and err == "rm: can't remove '/etc/falco/falco.yaml': Read-only file system\n"
    writable = fs(read_only_root=False)
    assert run(["sh", "-c", 'printf %s x > "$1"', "sh", "/etc/falco/new.yaml"], writable)[0] == 0


def test_the_simulated_sh_refuses_what_it_does_not_run() -> None:
    box = fs()
    for script in ("cat /etc/passwd | wc -l", "echo $(id)", "ls /tmp/*", "x=1"):
        code, _, err = run(["sh", "-c", script], box)
        assert code in (2, 127) and err.startswith("sh: "), (script, err)
    assert run(["sh", "-c", "false && printf a; printf b"], box) == (0, "b", "")
    assert run(["sh", "-c", "false || printf '%s-%s' \"$@\"", "sh", "x", "y"], box) == (0, "x-y", "")
    assert run(["nc", "-l"], box) == (127, "", "sh: nc: not found\n")


def test_falco_v_reports_like_validate_rules_files() -> None:
    box = fs()
    run(["sh", "-c", 'printf %s "$1" > "$2"', "sh", BROKEN, "/tmp/bad.yaml"], box)
    run(["sh", "-c", 'printf %s "$1" > "$2"', "sh", WARNS, "/tmp/warns.yaml"], box)
    argv = ["/usr/bin/falco", "-V", "/etc/falco/falco_rules.yaml", "-V", "/tmp/warns.yaml"]
    code, out, err = run(argv, box, falco(box))
    assert code == 0
    assert out == "/etc/falco/falco_rules.yaml: Ok\n/tmp/warns.yaml: Ok, with warnings\n"
    assert "/tmp/warns.yaml: Ok, with warnings\n1 Warnings:" in err  # the full report goes to the log
    code, out, err = run([*argv, "-V", "/tmp/bad.yaml"], box, falco(box))
    assert code == 1
    assert out.startswith("/etc/falco/falco_rules.yaml: Ok\n/tmp/warns.yaml: Ok, with warnings\n")
    assert "/tmp/bad.yaml: Invalid\n1 Errors:\n" in out
    assert err.endswith("Error: " + out)  # falco.cpp: fprintf(stderr, "Error: %s\n", summary)
    code, out, err = run(["falco", "-V", "/tmp/none.yaml"], box, falco(box))
    assert (code, out) == (1, "") and err == "Error: Could not open file /tmp/none.yaml for reading\n"
