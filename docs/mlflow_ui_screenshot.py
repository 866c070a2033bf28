"""Screenshot of the MLflow UI (``raynas ui``) showing a raynas search with its nested trial runs.

Runs a small NAS-Bench-201 search into a fresh work directory (embedded SQLite store), starts ``raynas ui`` on
it, opens the experiment's runs table in headless Chromium, expands the search's parent run and saves a
screenshot. The check fails (exit code 1) unless the page shows the parent run and its trial runs.

Needs Chromium (Debian: ``apt-get install chromium``) and Playwright for Python (``pip install playwright``;
no browser download: the system Chromium is used).

    python docs/mlflow_ui_screenshot.py [--out docs/images/mlflow-ui.png] [--trials 24] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NAME = "nasbench201-ui-demo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raynas(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("raynas")), *args]


def run_search(workdir: Path, trials: int, env: dict[str, str]) -> None:
    config = workdir / "search.yaml"
    config.write_text(yaml.safe_dump({
        "name": NAME, "workdir": str(workdir), "max_trials": trials, "max_concurrent": 4, "gpus_per_trial": 0,
        "cpus_per_trial": 0.5, "benchmark": {"failure_rate": 0.1},
    }))
    subprocess.run(raynas("search", "--config", str(config)), check=True, env=env)


def start_ui(workdir: Path, port: int, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    ui = subprocess.Popen(raynas("ui", "--workdir", str(workdir), "--port", str(port)), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True, env=env)
    for line in ui.stdout:
        if "MLflow UI:" in line:
            return ui, line.split("MLflow UI:")[1].split()[0]
    raise SystemExit(f"raynas ui exited with code {ui.wait()} before it was ready")


def screenshot(url: str, out: Path, chromium: str, expected_children: int) -> list[str]:
    """Open the runs table, expand the parent run, save the screenshot; returns the problems found."""
    from mlflow import MlflowClient
    from playwright.sync_api import sync_playwright

    experiment = MlflowClient(url).get_experiment_by_name(NAME)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 900})
        page.goto(f"{url}/#/experiments/{experiment.experiment_id}/runs")
        parent = page.get_by_text(f"{NAME}-search").first
        parent.wait_for(timeout=60_000)
        assistant_close = page.get_by_role("button", name="Close")
        if assistant_close.count():
            assistant_close.first.click()  # the assistant side panel would hide half of the table
        page.locator("button[data-component-id*='runnamecellrenderer']").first.click()  # expand the parent run
        page.get_by_text(re.compile(r"^trial-\d{5}-")).first.wait_for(timeout=30_000)
        page.wait_for_timeout(1000)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        text = page.inner_text("body")
        browser.close()
    problems = []
    if f"{NAME}-search" not in text:
        problems.append("the search's parent run is not on the page")
    shown = set(re.findall(r"trial-\d{5}-[0-9a-f]{8}", text))
    if len(shown) < min(expected_children, 10):
        problems.append(f"only {len(shown)} trial runs are visible under the parent (expected at least "
                        f"{min(expected_children, 10)})")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).parent / "images" / "mlflow-ui.png"))
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--workdir", help="use this work directory (default: a temporary one)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the embedded store
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with tempfile.TemporaryDirectory(prefix="raynas-ui-") as tmp:
        workdir = Path(args.workdir or tmp).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        if args.trials > 0:
            run_search(workdir, args.trials, env)
        ui, url = start_ui(workdir, free_port(), env)
        try:
            problems = screenshot(url, Path(args.out), args.chromium, args.trials)
        finally:
            os.killpg(ui.pid, signal.SIGINT)
            ui.wait(30)
    if problems:
        print("check failed: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"screenshot of {url} saved to {args.out}: parent run and trial runs visible")
    return 0


if __name__ == "__main__":
    sys.exit(main())
