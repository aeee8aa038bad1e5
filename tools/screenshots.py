"""Screenshots for the README: one report's first screen and the index, at 1280 px.

    .venv/bin/python tools/screenshots.py [REPORTS_DIR] [--report 03_ab_test] [--out docs/img]

``REPORTS_DIR`` is a run folder or an output folder with a ``latest`` link (default:
``reports/latest``, what ``make report`` writes). Headless Chromium renders
``<report>.html`` to ``docs/img/report.png`` (1280 x 1000: the first screen) and
``index.html`` to ``docs/img/index.png`` (1280 x 1000). Nothing is fetched from the network.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1280, 1000
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--run-all-compositor-stages-before-draw", "--virtual-time-budget=3000", "--force-device-scale-factor=1"]


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("screenshots: no chromium binary found (install chromium)")


def screenshot(page: Path, png: Path, *, width: int = WIDTH, height: int = HEIGHT) -> Path:
    """``page`` rendered by headless Chromium into ``png`` (``width`` x ``height`` pixels)."""
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="jl-shot-") as profile:
        done = subprocess.run([chromium_binary(), *FLAGS, f"--user-data-dir={profile}",
                               f"--window-size={width},{height}", f"--screenshot={png}", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=180)
    if done.returncode != 0 or not png.exists():
        sys.exit(f"screenshots: chromium could not render {page.name}: {done.stderr.strip()[-500:]}")
    return png


def run_folder(path: Path) -> Path:
    """A run folder: ``path`` itself when it has an index.html, else ``path/latest``."""
    if (path / "index.html").is_file():
        return path
    if (path / "latest" / "index.html").is_file():
        return (path / "latest").resolve()
    sys.exit(f"screenshots: no index.html in {path} or {path / 'latest'}; run `make report` first")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="?", default=str(ROOT / "reports"), help="run folder or output folder")
    parser.add_argument("--report", default="03_ab_test", help="report whose first screen is shown")
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"), help="folder for report.png and index.png")
    args = parser.parse_args(argv)
    folder = run_folder(Path(args.reports))
    page = folder / f"{Path(args.report).stem}.html"
    if not page.is_file():
        names = sorted(p.stem for p in folder.glob("*.html") if p.name != "index.html")
        sys.exit(f"screenshots: no report {page.name} in {folder}; expected one of {names}")
    out = Path(args.out)
    for made in (screenshot(page, out / "report.png"), screenshot(folder / "index.html", out / "index.png")):
        print(f"wrote {made}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
