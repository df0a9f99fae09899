"""The commands a simulated container answers over exec: a few busybox applets, `sh -c` with simple
commands, and in a Falco container `falco` itself.

The Falco image is built `FROM cgr.dev/chainguard/wolfi-base` (falcosecurity/falco docker/falco/Dockerfile
at 0.43.1, 0.44.1 and master), whose shell-form `RUN` lines need `/bin/sh`: wolfi-base carries busybox
(sh, cat, ls, printf, mktemp, rm, mkdir) and wolfi-baselayout, which creates `/tmp` (wolfi-dev/os
wolfi-baselayout.yaml). Falco is `/usr/bin/falco` (the Dockerfile's `CMD`).

The simulated `sh -c` runs simple commands only: words (quoted, with `$0`-`$9`, `${N}`, `$#` and `$@`),
`>`/`>>` redirections of stdout, joined by `;`, `&&`, `||` and newlines. Anything more (pipes,
substitutions, globs, loops) is refused with a syntax error rather than half-run.
"""

from __future__ import annotations

import posixpath
import random
import string
from collections.abc import Callable, Mapping

from falcotui.sim.falco.config import list_dir
from falcotui.sim.nodes.container_fs import ContainerFs, FsError

Result = tuple[int, str, str]  # exit code, stdout, stderr
FalcoCli = Callable[[list[str], Mapping[str, str]], Result]

_UNSUPPORTED = set("|&<()`*?[]{}~")


def run(argv: list[str], fs: ContainerFs, falco: FalcoCli | None = None) -> Result:
    """(exit code, stdout, stderr) of one command in the simulated container."""
    if not argv:
        return 127, "", "sh: : not found\n"
    prog = posixpath.basename(argv[0])
    if prog == "sh" and argv[0] in ("sh", "/bin/sh"):
        return _sh(argv[1:], fs, falco)
    if prog == "falco" and argv[0] in ("falco", "/usr/bin/falco") and falco is not None:
        return falco(argv, fs.files())
    applet = _APPLETS.get(prog)
    if applet is None:
        return 127, "", f"sh: {argv[0]}: not found\n"
    return applet(argv[1:], fs)


# ---- applets (busybox) ------------------------------------------------------------------------------
def _cat(paths: list[str], fs: ContainerFs) -> Result:
    files = fs.files()
    out, err, code = [], [], 0
    for path in paths:
        if path in files:
            out.append(files[path])
        elif list_dir(files, path) or fs.is_dir(path, files):  # busybox: bb_perror_msg("read error")
            err.append("cat: read error: Is a directory\n")
            code = 1
        else:
            # busybox open_or_warn: bb_perror_msg("can't open '%s'") (libbb/xfuncs_printf.c)
            err.append(f"cat: can't open '{path}': No such file or directory\n")
            code = 1
    return code, "".join(out), "".join(err)


def _ls(args: list[str], fs: ContainerFs) -> Result:
    files = fs.files()
    flags = "".join(a[1:] for a in args if a.startswith("-") and a != "-")
    if set(flags) - set("a1"):
        return 1, "", f"ls: -{flags}: only -a and -1 are simulated (names, one per line)\n"
    paths = [a for a in args if not a.startswith("-")] or ["/"]
    everything = "a" in flags
    out, err, code = [], [], 0
    for path in paths:
        prefix = path.rstrip("/") + "/"
        if path in files and prefix not in files:
            out.append(f"{path}\n")
            continue
        names = sorted({p[len(prefix) :].split("/", 1)[0] for p in files if p.startswith(prefix)} - {""})
        if not names and not fs.is_dir(path, files):
            err.append(f"ls: {path}: No such file or directory\n")
            code = 1
            continue
        if everything:
            names = [".", "..", *names]
        out.extend(f"{n}\n" for n in names)
    return code, "".join(out), "".join(err)


def _printf(args: list[str], fs: ContainerFs) -> Result:
    if not args:
        return 1, "", "printf: missing format\n"
    fmt, values = args[0], args[1:]
    out: list[str] = []
    while True:
        i, used = 0, 0
        while i < len(fmt):
            ch = fmt[i]
            if ch == "\\" and i + 1 < len(fmt):
                esc = fmt[i + 1]
                out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(esc, "\\" + esc))
                i += 2
            elif ch == "%" and i + 1 < len(fmt):
                conv = fmt[i + 1]
                if conv == "%":
                    out.append("%")
                elif conv == "s":
                    out.append(values[used] if used < len(values) else "")
                    used += 1
                else:
                    return 1, "", f"printf: %{conv}: not supported by the simulated printf (only %s)\n"
                i += 2
            else:
                out.append(ch)
                i += 1
        values = values[used:]
        if not values or used == 0:  # the format is reused while arguments remain (POSIX printf)
            break
    return 0, "".join(out), ""


def _mktemp(args: list[str], fs: ContainerFs) -> Result:
    """busybox debianutils/mktemp.c: `-d` makes a directory; the template's trailing X's become random
    characters; without a `/` the template is taken under $TMPDIR or /tmp; on failure it dies with
    `bb_perror_nomsg_and_die()`: `mktemp: <strerror>`, exit 1."""
    directory = "-d" in args
    names = [a for a in args if not a.startswith("-")]
    template = names[0] if names else "tmp.XXXXXX"
    if "/" not in template:
        template = f"/tmp/{template}"
    stem = template.rstrip("X")
    count = len(template) - len(stem)
    if count < 6:
        return 1, "", "mktemp: Invalid argument\n"
    alphabet = string.ascii_letters + string.digits
    path = stem + "".join(random.choice(alphabet) for _ in range(count))
    try:
        if directory:
            fs.mkdir(path)
        else:
            fs.write(path, "")
    except FsError as exc:
        return 1, "", f"mktemp: {exc}\n"
    return 0, path + "\n", ""


def _rm(args: list[str], fs: ContainerFs) -> Result:
    """busybox coreutils/rm.c + libbb/remove_file.c: `rm: can't remove 'X': <strerror>`; -f ignores
    missing files."""
    flags = "".join(a[1:] for a in args if a.startswith("-") and a != "-")
    recursive, force = "r" in flags or "R" in flags, "f" in flags
    err, code = [], 0
    for path in [a for a in args if not a.startswith("-") or a == "-"]:
        try:
            fs.remove(path, recursive=recursive)
        except FsError as exc:
            if force and "No such file" in str(exc):
                continue
            if "Is a directory" in str(exc):
                err.append(f"rm: '{path}' is a directory\n")
            else:
                err.append(f"rm: can't remove '{path}': {exc}\n")
            code = 1
    return code, "", "".join(err)


def _mkdir(args: list[str], fs: ContainerFs) -> Result:
    parents = any(a.startswith("-") and "p" in a for a in args)
    err, code = [], 0
    for path in [a for a in args if not a.startswith("-")]:
        todo = [path]
        if parents:
            todo, p = [], path
            while p not in ("", "/") and not fs.is_dir(p):
                todo.insert(0, p)
                p = posixpath.dirname(p.rstrip("/"))
        for p in todo:
            try:
                fs.mkdir(p)
            except FsError as exc:
                err.append(f"mkdir: can't create directory '{p}': {exc}\n")
                code = 1
                break
    return code, "", "".join(err)


_APPLETS: dict[str, Callable[[list[str], ContainerFs], Result]] = {
    "cat": _cat,
    "ls": _ls,
    "printf": _printf,
    "mktemp": _mktemp,
    "rm": _rm,
    "mkdir": _mkdir,
    "true": lambda args, fs: (0, "", ""),
    "false": lambda args, fs: (1, "", ""),
}


# ---- sh -c ------------------------------------------------------------------------------------------
class _Syntax(Exception):
    pass


def _expand(name: str, params: list[str]) -> list[str]:
    if name == "#":
        return [str(len(params) - 1)]
    if name == "@":
        return params[1:]
    if name.isdigit():
        i = int(name)
        return [params[i] if i < len(params) else ""]
    raise _Syntax(f"${name}")


def _tokens(script: str, params: list[str]) -> list[tuple[str, list[str]]]:
    """("word", [fields]) and ("op", [text]) tokens; `"$@"` expands to one field per parameter."""
    out: list[tuple[str, list[str]]] = []
    i, n = 0, len(script)
    word: list[str] | None = None  # the fields of the word being read (the last one grows)

    def add(text: str) -> None:
        nonlocal word
        if word is None:
            word = [""]
        word[-1] += text

    def add_fields(fields: list[str]) -> None:
        nonlocal word
        if word is None:
            word = [""]
        if not fields:
            return
        word[-1] += fields[0]
        word.extend(fields[1:])

    def end() -> None:
        nonlocal word
        if word is not None:
            out.append(("word", word))
            word = None

    def dollar(j: int) -> tuple[list[str], int]:
        if j + 1 < n and script[j + 1] == "{":
            close = script.find("}", j + 2)
            if close < 0:
                raise _Syntax("${")
            return _expand(script[j + 2 : close], params), close + 1
        if j + 1 < n and (script[j + 1].isdigit() or script[j + 1] in "#@"):
            return _expand(script[j + 1], params), j + 2
        raise _Syntax("$" + script[j + 1 : j + 2])

    while i < n:
        ch = script[i]
        if ch in " \t":
            end()
            i += 1
        elif ch == "\n" or ch == ";":
            end()
            out.append(("op", [";"]))
            i += 1
        elif script.startswith("&&", i) or script.startswith("||", i):
            end()
            out.append(("op", [script[i : i + 2]]))
            i += 2
        elif script.startswith(">>", i) or ch == ">":
            end()
            op = ">>" if script.startswith(">>", i) else ">"
            out.append(("op", [op]))
            i += len(op)
        elif ch == "'":
            close = script.find("'", i + 1)
            if close < 0:
                raise _Syntax("unterminated quoted string")
            add(script[i + 1 : close])
            i = close + 1
        elif ch == '"':
            i += 1
            add("")
            while i < n and script[i] != '"':
                c = script[i]
                if c == "\\" and i + 1 < n and script[i + 1] in '"\\$`':
                    add(script[i + 1])
                    i += 2
                elif c == "$":
                    fields, i = dollar(i)
                    add_fields(fields)
                elif c == "`":
                    raise _Syntax("`")
                else:
                    add(c)
                    i += 1
            if i >= n:
                raise _Syntax("unterminated quoted string")
            i += 1
        elif ch == "$":
            fields, i = dollar(i)
            add_fields(fields)
        elif ch == "\\" and i + 1 < n:
            add(script[i + 1])
            i += 2
        elif ch in _UNSUPPORTED:
            raise _Syntax(ch)
        else:
            add(ch)
            i += 1
    end()
    return out


def _sh(args: list[str], fs: ContainerFs, falco: FalcoCli | None) -> Result:
    if not args or args[0] != "-c":
        return 2, "", "sh: the simulated sh only runs `sh -c SCRIPT [NAME [ARG...]]`\n"
    if len(args) < 2:
        return 2, "", "sh: -c requires an argument\n"
    script, params = args[1], (args[2:] or ["sh"])
    try:
        tokens = _tokens(script, params)
    except _Syntax as exc:
        return 2, "", f"sh: syntax error: {exc} (the simulated sh runs simple commands only)\n"
    out, err = [], []
    status, skip = 0, False
    words: list[str] = []
    redirect: tuple[str, str] | None = None
    pending: str | None = None  # a redirection operator waiting for its file word
    for kind, value in [*tokens, ("op", [";"])]:
        if kind == "word":
            if pending is not None:
                redirect, pending = (pending, value[0]), None
            else:
                words.extend(value)
            continue
        op = value[0]
        if op in (">", ">>"):
            pending = op
            continue
        if pending is not None:
            return 2, "".join(out), "".join(err) + f"sh: syntax error: unexpected {op!r}\n"
        if words and not skip:
            status = _simple(words, redirect, fs, falco, out, err)
        words, redirect = [], None
        skip = (op == "&&" and status != 0) or (op == "||" and status == 0)
    return status, "".join(out), "".join(err)


def _simple(
    words: list[str],
    redirect: tuple[str, str] | None,
    fs: ContainerFs,
    falco: FalcoCli | None,
    out: list[str],
    err: list[str],
) -> int:
    """One simple command: its redirection is opened first (created, or truncated for `>`), as a shell
    does, so a read-only target stops the command before it runs."""
    if redirect is not None:
        op, target = redirect
        try:
            fs.write(target, "", append=op == ">>")
        except FsError as exc:
            # ash (from dash): `can't create FILE: <strerror>` and status 2, the command not run (dash's
            # status; busybox ash's exact status is not verified here)
            err.append(f"sh: can't create {target}: {exc}\n")
            return 2
    code, o, e = run(words, fs, falco)
    err.append(e)
    if redirect is not None:
        fs.write(redirect[1], o, append=True)
    else:
        out.append(o)
    return code
