"""Screenshot of the analysis report (``raynas analyze``) of a small NAS-Bench-201 search.

Runs a small tabular search into a fresh work directory (no MLflow), runs ``raynas analyze`` on it, opens the
self-contained ``report.html`` in headless Chromium, checks that every embedded plot decoded (``naturalWidth``
> 0) and that the report's sections are there, and saves a full-page screenshot. Exit code 1 when a check fails.

Needs Chromium (Debian: ``apt-get install chromium``) and Playwright for Python (``pip install playwright``;
no browser download: the system Chromium is used).

    python docs/report_screenshot.py [--out docs/images/report.png] [--trials 60] [--seed 1] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NAME = "nasbench201-report-demo"
SECTIONS = ("Summary", "Search progress", "Top 10 trials", "Decisions: which options win, which decisions matter",
            "Pareto fronts: reward vs cost", "Failures", "Stage 1 vs stage 2", "Suggestions for the next search space")


def raynas(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("raynas")), *args]


def run_search(workdir: Path, trials: int, seed: int, env: dict[str, str]) -> None:
    config = workdir / "search.yaml"
    config.write_text(yaml.safe_dump({
        "name": NAME, "workdir": str(workdir), "space": "nasbench201", "max_trials": trials, "max_concurrent": 2,
        "gpus_per_trial": 0, "cpus_per_trial": 1, "controller": {"name": "evolution"}, "seed": seed,
        "benchmark": {"failure_rate": 0.05}, "mlflow": False,
    }))
    subprocess.run(raynas("search", "--config", str(config), "--overwrite"), check=True, env=env)


def run_analyze(workdir: Path, env: dict[str, str]) -> Path:
    out = subprocess.run(raynas("analyze", NAME, "--workdir", str(workdir), "--format", "json"), check=True,
                         env=env, capture_output=True, text=True)
    return Path(json.loads(out.stdout)["html"])


def screenshot(report: Path, out: Path, chromium: str) -> list[str]:
    """Open the report, check its images and sections, save a full-page screenshot; returns the problems found."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => ({alt: i.alt, width: i.complete ? i.naturalWidth : 0}))")
        headings = page.eval_on_selector_all("h2", "hs => hs.map(h => h.textContent)")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    shrink(out)
    problems = []
    if not images:
        problems.append("the report has no images")
    problems += [f"image {i['alt']!r} did not render (naturalWidth 0)" for i in images if i["width"] <= 0]
    problems += [f"section {s!r} is missing" for s in SECTIONS if s not in headings]
    return problems


def shrink(path: Path) -> None:
    """Store the screenshot with a 256-colour palette (a third of the size; text and plots stay sharp)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).parent / "images" / "report.png"))
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1, help="search seed (default 1: a run with a few injected failures)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--workdir", help="use this work directory (default: a temporary one)")
    args = parser.parse_args()
    env = {**os.environ, "RAY_AIR_NEW_OUTPUT": "0"}
    with tempfile.TemporaryDirectory(prefix="raynas-report-") as tmp:
        workdir = Path(args.workdir or tmp).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        run_search(workdir, args.trials, args.seed, env)
        report = run_analyze(workdir, env)
        problems = screenshot(report, Path(args.out), args.chromium)
    if problems:
        print("check failed: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"screenshot of {report} saved to {args.out}: every plot rendered, every section present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
