"""`python -m falcotui.cli.report_screenshots DIR`: the README's pictures of an incident report, rendered by
a real headless browser (Debian's chromium), as `make screenshots` does.

It runs the demo cluster with an incident that starts after a quiet spell (`--minutes` of alerts in all),
takes two response actions with `falcotui act` (quarantine a workload pod, cordon its node), runs
`falcotui report` over the window as a user would (a subprocess, the pods' logs), and has chromium render
report.html to PNG: `report.png` (header, cards and charts) and `report-tables.png` (counts, response
actions, timeline). Nothing here is needed by the tests; it needs chromium on PATH (or `--chromium`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The flags Debian's chromium needs here, headless as root on a machine without outside network
#: (/work/.library/env/machines/python.md, "Known to work"): no sandbox, GPU, QUIC, first-run, background
#: networking, component updates or sync; a fresh profile.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
WIDTH = 1280
TOP_HEIGHT = 1450  # header, cards, both charts
PAGE_HEIGHT = 4200


def find_chromium(given: str | None) -> str:
    for name in (given, "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    raise SystemExit(
        "report_screenshots: no chromium found (apt-get install -y chromium, or --chromium PATH)"
    )


def render_png(chromium: str, page: Path, out: Path, *, width: int, height: int) -> None:
    """The page's top `height` pixels at `width`, as the browser lays it out for a screen."""
    with tempfile.TemporaryDirectory(prefix="falcotui-chromium-") as profile:
        cmd = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={out}",
            page.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"report_screenshots: chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")


def print_pdf(chromium: str, page: Path, out: Path) -> int:
    """The page printed by the browser (its print stylesheet); returns how many pages it took."""
    with tempfile.TemporaryDirectory(prefix="falcotui-chromium-") as profile:
        cmd = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(
            f"report_screenshots: chromium could not print ({proc.returncode}): {proc.stderr[-2000:]}"
        )
    counts = re.findall(rb"/Count (\d+)", out.read_bytes())  # the page tree's root counts every page
    return max((int(c) for c in counts), default=0)


def crop(src: Path, dest: Path, top: int, bottom: int) -> None:
    from PIL import Image  # Pillow comes with matplotlib

    with Image.open(src) as image:
        image.crop((0, top, image.width, min(bottom, image.height))).save(dest, optimize=True)


def falcotui(*args: str, kubeconfig: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "falcotui", *args, "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise SystemExit(f"report_screenshots: falcotui {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return proc.stdout


def make_report(workdir: Path, *, minutes: float, seed: int) -> Path:
    """Run the demo incident for `minutes`, respond to it, write its report; returns the report's folder."""
    from falcotui.cli.demo import FAST_TIMINGS, DemoCluster

    quiet_s = max(30.0, minutes * 60 / 3)

    # the demo, its incident later and longer: a quiet spell, a burst on some nodes, quiet again
    incident = dict(per_minute=12, delay=quiet_s, duration=quiet_s, burst_rate=1.0, fraction=0.4)
    demo = DemoCluster(nodes=6, scenario="incident", seed=seed, timings=dict(FAST_TIMINGS), workloads=True,
                       scenario_params=incident)  # fmt: skip
    demo.start()
    try:
        kubeconfig = Path(str(demo.kubeconfig))
        log = workdir / "actions.jsonl"
        started = time.monotonic()
        print(f"report_screenshots: the demo incident runs for {minutes:g} minutes…", file=sys.stderr)
        time.sleep(max(0.0, minutes * 60 * 0.6 - (time.monotonic() - started)))
        pods = demo.clients().request("GET", "/api/v1/pods")["items"]
        pod = next(p for p in pods if p["metadata"]["namespace"] not in ("falco", "kube-system"))
        where, node = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}", pod["spec"]["nodeName"]
        falcotui(
            "act", "quarantine", "--pod", where, "--yes", "--action-log", str(log), kubeconfig=kubeconfig
        )
        falcotui("act", "cordon", "--node", node, "--yes", "--action-log", str(log), kubeconfig=kubeconfig)
        time.sleep(max(0.0, minutes * 60 - (time.monotonic() - started)))
        folder = workdir / "report"
        window = f"{int(minutes) + 1}m"
        print(
            falcotui(
                "report",
                "--since",
                window,
                "-o",
                str(folder),
                "--action-log",
                str(log),
                "--title",
                "Falco incident report: demo cluster",
                kubeconfig=kubeconfig,
            ),
            file=sys.stderr,
        )
        return folder
    finally:
        demo.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m falcotui.cli.report_screenshots", description=__doc__)
    parser.add_argument("dir", type=Path, help="where to write report.png and report-tables.png")
    parser.add_argument("--minutes", type=float, default=6.0, help="how long the demo incident runs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chromium", help="the browser (default: chromium on PATH)")
    parser.add_argument("--keep", type=Path, help="also copy the report's folder here")
    args = parser.parse_args(argv)
    chromium = find_chromium(args.chromium)
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="falcotui-report-shots-") as tmp:
        work = Path(tmp)
        folder = make_report(work, minutes=args.minutes, seed=args.seed)
        full = work / "full.png"
        render_png(chromium, folder / "report.html", full, width=WIDTH, height=PAGE_HEIGHT)
        crop(full, args.dir / "report.png", 0, TOP_HEIGHT)
        crop(full, args.dir / "report-tables.png", TOP_HEIGHT, PAGE_HEIGHT)
        pages = print_pdf(chromium, folder / "report.html", folder / "report.pdf")
        print(f"report_screenshots: printed, the report takes {pages} pages", file=sys.stderr)
        if args.keep is not None:
            shutil.copytree(folder, args.keep, dirs_exist_ok=True)
    for name in ("report.png", "report-tables.png"):
        print(args.dir / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
