"""Memory of the built-in trainer on an image folder: 20,000 images vs 2,000, each run in a fresh subprocess.

Writes 2,000 and 20,000 small PNGs (32x32 RGB, 10 classes, a folder per class) to a temporary folder, then
trains one epoch of a small CNN (the ``small_cnn`` family's baseline at ``--width``) on each through
``TrainingEvaluator`` (``dataset: {kind: image_folder}``: split, DataLoader workers decoding the PNGs). The
baseline is the 2,000-image run; the acceptance bar is peak RSS(20,000) / peak RSS(2,000) <= 1.3, i.e. memory
does not grow with the number of images (an image folder is never loaded whole).

Peak RSS of the training subprocess is its ``ru_maxrss`` as ``os.wait4`` reports it (the process itself, or its
largest child); the largest DataLoader worker's own peak is reported by the subprocess, and the sampled peak of
the whole process tree (training process + workers, proportional set sizes summed: shared pages count once) comes
from ``/proc`` every 50 ms.

    python bench/image_folder_memory.py [--small 2000] [--large 20000] [--size 32] [--workers 2] [--width 0.5]
    python bench/image_folder_memory.py --smoke     # CI: 50 and 100 images (every code path, no figure)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLASSES = 10
ACCEPTANCE = 1.3
SMOKE = {"small": 50, "large": 100}  # --smoke: the smallest sizes that run every code path


def write_images(folder: Path, count: int, size: int, seed: int = 0) -> None:
    """``count`` PNGs, ``count / 10`` per class: a class colour plus noise (learnable, not trivially compressible)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (CLASSES, 3))
    for label in range(CLASSES):
        (folder / f"class_{label}").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        label = i % CLASSES
        pixels = np.clip(colours[label] + rng.normal(0, 40, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"class_{label}" / f"{i:06d}.png")


def child(args: argparse.Namespace) -> None:
    """One epoch of the built-in trainer on the folder, in this (fresh) process; prints one JSON line."""
    import resource

    from raynas.families import load_family
    from raynas.tasks import task_from_dict
    from raynas.training import TrainingEvaluator, ensure_split

    folder = Path(args.child)
    family = ROOT / "search_spaces" / "small_cnn.py"
    task = task_from_dict({
        "name": "image-folder-memory",
        "dataset": {"kind": "image_folder", "path": str(folder), "image_size": args.size, "workers": args.workers},
        "family": "small_cnn", "recipe": {"optimizer": "sgd", "learning_rate": 0.05, "batch_size": 64, "epochs": 1},
        "variants": {"full": {"epochs": 1, "width_mult": args.width}, "proxy": {"epochs": 1, "width_mult": args.width}},
    }, source=str(folder.parent / "task.yaml"))
    split_path = str(folder.parent / f"split-{folder.name}.parquet")
    split = ensure_split(task, split_path)
    evaluator = TrainingEvaluator(task, "full", split_path, device="cpu", family_source=str(family), workers=1,
                                  keep_checkpoint=False)
    started = time.perf_counter()
    metrics = evaluator.evaluate(load_family(str(family)).baseline, seed=0)
    print(json.dumps({
        "train": split.num_train, "seconds": time.perf_counter() - started, "val_accuracy": metrics["val_accuracy"],
        "self_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


def _tree_pss_mb(root: int) -> float:
    """Proportional set size of ``root`` and its descendants now, summed, from /proc (Linux): pages the forked
    DataLoader workers share with the training process count once in all."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    total_kb = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                total_kb += next(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            continue
    return total_kb / 1024


def measure(folder: Path, args: argparse.Namespace) -> dict:
    """Run the child on ``folder`` in a fresh interpreter; its peak RSS from wait4, the tree's sampled."""
    out = folder.parent / f"out-{folder.name}.json"
    command = [sys.executable, __file__, "--child", str(folder), "--size", str(args.size),
               "--workers", str(args.workers), "--width", str(args.width)]
    with open(out, "w") as stdout:
        proc = subprocess.Popen(command, stdout=stdout, cwd=ROOT)
        tree_peak = 0.0
        done = threading.Event()

        def sample() -> None:
            nonlocal tree_peak
            while not done.is_set():
                tree_peak = max(tree_peak, _tree_pss_mb(proc.pid))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"training subprocess on {folder} failed with exit code {proc.returncode}")
    result = json.loads(out.read_text().strip().splitlines()[-1])
    return {**result, "peak_mb": usage.ru_maxrss / 1024, "tree_peak_mb": tree_peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000, help="images of the baseline run (default 2,000)")
    parser.add_argument("--large", type=int, default=20000, help="images of the compared run (default 20,000)")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (default 2)")
    parser.add_argument("--width", type=float, default=0.5, help="small_cnn width_mult (default 0.5)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true", help=f"CI smoke run, sizes {SMOKE} unless given")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="raynas-image-folder-") as tmp:
        runs = {}
        for count in (args.small, args.large):
            folder = Path(tmp) / f"images-{count}"
            started = time.perf_counter()
            write_images(folder, count, args.size)
            print(f"wrote {count:,} {args.size}x{args.size} PNGs in {time.perf_counter() - started:.1f} s", flush=True)
            runs[count] = measure(folder, args)
    print(f"\nimage_folder, 1 epoch of the built-in trainer (small_cnn baseline, width {args.width}), {args.size}x"
          f"{args.size} PNGs, {CLASSES} classes, {args.workers} DataLoader workers, CPU, each run in a fresh subprocess")
    print(f"{'images':>8} {'train':>7} {'time':>8} {'peak RSS':>10} {'worker peak':>12} {'tree PSS':>10} {'val acc':>8}")
    for count, run in runs.items():
        print(f"{count:>8,} {run['train']:>7,} {run['seconds']:>7.1f}s {run['peak_mb']:>8.0f}MB "
              f"{run['worker_peak_mb']:>10.0f}MB {run['tree_peak_mb']:>8.0f}MB {run['val_accuracy']:>7.1f}%")
    small, large = runs[args.small], runs[args.large]
    ratio = large["peak_mb"] / small["peak_mb"]
    print(f"ratio peak RSS {args.large:,} / {args.small:,} images (baseline: the {args.small:,}-image run) = "
          f"{ratio:.3f}  (acceptance bar <= {ACCEPTANCE}: {'PASS' if ratio <= ACCEPTANCE else 'FAIL'})")
    print(f"ratio sampled process-tree peak PSS (training process + workers) = "
          f"{large['tree_peak_mb'] / small['tree_peak_mb']:.3f}")


if __name__ == "__main__":
    main()
