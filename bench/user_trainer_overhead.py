"""Throughput of a user trainer searched through raynas vs the same loop as a plain Ray Tune function trainable.

Both arms run the user training loop of ``tests/targets/user_project/train.py`` (an MLP on scikit-learn's digits:
Adam, batch 32, an evaluation, a checkpoint and one report per epoch, ``save_model`` at the end) on the same N
architectures, fed in the same order, with the same number of epochs, trials, concurrency and resources
(1 CPU per trial), on one local Ray instance started once:

- **raynas**: ``raynas.tune.run_search`` on a user-trainer task (``trainer: ./train.py:train``), grid controller
  (shuffled, seeded): the whole search as a user runs it, with MLflow on (a fresh embedded SQLite store under a
  temp dir per run, final sync included); a second raynas arm with MLflow off.
- **plain Ray Tune function trainable** (the baseline): ``tune.Tuner(tune.with_resources(fn, {"cpu": 1}),
  param_space={"arch": tune.grid_search(archs)})`` where ``archs`` are the architectures raynas's controller
  proposes, in its order. ``fn`` calls the *same* user function with a small stand-in context: the same digits
  data split the same way (stratified 20% held out, then a seeded 10% of the rest as stage-1 validation: the same
  sizes as raynas's split), the same per-item dataset, samplers and seeds, ``torch.save`` checkpoints reported
  with ``tune.report(metrics, checkpoint=...)`` once per epoch (``num_to_keep=1`` as raynas), Tune's default
  loggers, ``reuse_actors`` as raynas (True).

Runs alternate (plain, raynas, raynas without MLflow; the order reversed every other repeat); medians. Throughput is
trials per second of wall time (``run_search`` for raynas, ``Tuner(...)`` + ``fit()`` for plain Ray Tune).
Acceptance: throughput raynas / plain Ray Tune >= 0.95.

    python bench/user_trainer_overhead.py [--trials 24] [--concurrent 2] [--repeats 3] [--epochs 15]
    python bench/user_trainer_overhead.py --smoke     # CI: 2 trials of 1 epoch, 1 run per arm (no figure)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")  # both arms checkpoint per epoch

ROOT = Path(__file__).resolve().parent.parent
USER_PROJECT = ROOT / "tests" / "targets" / "user_project"
ACCEPT = 0.95
BASELINE = "plain Ray Tune function trainable"
SMOKE = {"trials": 2, "epochs": 1, "repeats": 1}  # --smoke: the smallest sizes that run every code path

# The user's model family with a wider space than the test project's 12 architectures (grid search never repeats
# one): 5 widths x 3 depths x 2 activations; build() is the test project's.
SPACE_PY = '''"""The user's MLP family over 8x8 digits, 30 architectures."""

from raynas.space import SearchSpace, one_of

SPACE = SearchSpace({"hidden": one_of(16, 32, 64, 128, 256), "depth": one_of(1, 2, 3),
                     "activation": one_of("relu", "tanh")}, name="bench_user_mlp")
BASELINE = {"hidden": 32, "depth": 1, "activation": "relu"}


def build(arch, *, in_features=64, num_classes=10):
    from torch import nn

    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[arch["activation"]]
    layers, width = [nn.Flatten()], in_features
    for _ in range(arch["depth"]):
        layers += [nn.Linear(width, arch["hidden"]), act()]
        width = arch["hidden"]
    return nn.Sequential(*layers, nn.Linear(width, num_classes))
'''

TASK_YAML = """name: bench-user-digits
trainer: ./train.py:train
family: ./space.py
dataset: digits
variants:
  full: {{epochs: {epochs}, lr: 0.01}}
  proxy: {{epochs: {epochs}, lr: 0.01}}
"""


def write_project(folder: Path, epochs: int) -> Path:
    """The user's project: the test project's train.py, a 30-architecture space, a task of ``epochs`` epochs."""
    folder.mkdir(parents=True)
    shutil.copy(USER_PROJECT / "train.py", folder / "train.py")
    (folder / "space.py").write_text(SPACE_PY)
    (folder / "task.yaml").write_text(TASK_YAML.format(epochs=epochs))
    return folder / "task.yaml"


def search_config(task: Path, workdir: str, name: str, *, trials: int, concurrent: int, seed: int, mlflow: bool,
                  tracking_uri: str | None = None):
    from raynas.config import SearchConfig

    return SearchConfig.from_dict({
        "name": name, "task": str(task), "workdir": workdir, "max_trials": trials, "max_concurrent": concurrent,
        "gpus_per_trial": 0, "cpus_per_trial": 1, "device": "cpu", "auto_stop": False, "seed": seed,
        "controller": {"name": "grid", "shuffle": True},
        "mlflow": {"enabled": mlflow, **({"tracking_uri": tracking_uri} if tracking_uri else {})},
    })


def presample(task: Path, *, trials: int, seed: int) -> list[dict]:
    """The architectures raynas's controller proposes for this config, in its order (it ignores the outcomes)."""
    with tempfile.TemporaryDirectory() as workdir:
        config = search_config(task, workdir, "presample", trials=trials, concurrent=1, seed=seed, mlflow=False)
        space = config.build_space()
        controller = config.build_controller(space)
        archs = [space.decode(controller.propose()) for _ in range(trials)]
    assert len({repr(sorted(a.items())) for a in archs}) == trials, "the space has fewer architectures than --trials"
    return archs


# --- the plain Ray Tune arm --------------------------------------------------------------------------------------

def plain_trainable(project: str, epochs: int, seeds: dict):
    """A plain Ray Tune function trainable running the user's ``train(ctx)`` with a minimal stand-in context."""

    def trainable(config):
        import importlib.util
        import json

        import numpy as np
        import torch
        from ray import tune
        from torch.utils.data import DataLoader, Dataset, RandomSampler, Subset

        def load(name):
            spec = importlib.util.spec_from_file_location(f"bench_user_{name}", os.path.join(project, f"{name}.py"))
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module

        class Items(Dataset):  # what raynas's in-memory datasets return per item
            def __init__(self, x, y):
                self.x, self.y = torch.as_tensor(x), torch.as_tensor(y)

            def __len__(self):
                return len(self.y)

            def __getitem__(self, index):
                return self.x[index], int(self.y[index])

        def digits():
            """sklearn's digits; a seeded stratified 20% held out; a seeded 10% of the rest validates stage 1."""
            from sklearn.datasets import load_digits

            bunch = load_digits()
            x = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
            y = bunch.target.astype(np.int64)
            rng = np.random.default_rng(20240101)
            held = np.zeros(len(y), dtype=bool)
            for label in np.unique(y):
                members = np.flatnonzero(y == label)
                rng.shuffle(members)
                held[members[: int(round(0.2 * len(members)))]] = True
            train = Items(x[~held], y[~held])
            order = np.random.default_rng(0).permutation(len(train))
            num_val = int(round(0.1 * len(train)))
            return (Subset(train, np.sort(order[num_val:]).tolist()), Subset(train, np.sort(order[:num_val]).tolist()))

        class Context:
            """The part of raynas's TrainerContext the user's loop uses, done the plain Ray Tune way."""

            rank, world_size, start_epoch, device = 0, 1, 1, "cpu"

            def __init__(self, arch, seed):
                self.arch, self.seed = arch, seed
                self.variant = {"epochs": epochs, "lr": 0.01}
                self.folder = tempfile.mkdtemp(prefix="bench-plain-")
                self.pending = None

            def datasets(self):
                return digits()

            def build(self, **kwargs):
                return load("space").build(self.arch, **kwargs)

            def wrap_model(self, model):
                return model.to(self.device)

            @staticmethod
            def unwrap(model):
                return model

            def loader(self, dataset, *, batch_size, epoch=None):
                sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(self.seed))
                return DataLoader(dataset, batch_size=batch_size, sampler=sampler)

            def load_checkpoint(self):
                return None

            def save_checkpoint(self, state, *, epoch):
                folder = tempfile.mkdtemp(dir=self.folder)
                torch.save(state, os.path.join(folder, "state.pt"))
                with open(os.path.join(folder, "epoch.json"), "w") as handle:
                    json.dump({"epoch": epoch}, handle)
                self.pending = folder

            def report(self, *, epoch, **metrics):
                body = {"epoch": epoch, **{k: (v.item() if hasattr(v, "item") else v) for k, v in metrics.items()},
                        "train_seconds": time.perf_counter() - started}
                if self.pending is None:
                    tune.report(body)
                    return
                tune.report(body, checkpoint=tune.Checkpoint.from_directory(self.pending))
                shutil.rmtree(self.pending, ignore_errors=True)
                self.pending = None

            def save_model(self, model):
                torch.save({"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}},
                           os.path.join(self.folder, "model.pt"))

        started = time.perf_counter()
        seed = seeds[repr(sorted(config["arch"].items()))]
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        ctx = Context(config["arch"], seed)
        try:
            load("train").train(ctx)
        finally:
            shutil.rmtree(ctx.folder, ignore_errors=True)

    return trainable


def plain_tune(project: Path, archs: list[dict], *, epochs: int, concurrent: int, seed: int, storage: str,
               name: str) -> tuple[float, float]:
    from ray import tune

    from raynas.tune import trial_seed

    seeds = {repr(sorted(a.items())): trial_seed(seed, number) for number, a in enumerate(archs, start=1)}
    start = time.perf_counter()
    tuner = tune.Tuner(
        tune.with_resources(plain_trainable(str(project), epochs, seeds), {"cpu": 1}),
        param_space={"arch": tune.grid_search(archs)},
        tune_config=tune.TuneConfig(num_samples=1, max_concurrent_trials=concurrent, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, name=name, verbose=0,
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
    )
    results = tuner.fit()
    elapsed = time.perf_counter() - start
    assert len(results) == len(archs) and not results.errors, results.errors
    ran = [r.config["arch"] for r in sorted(results, key=lambda r: r.metrics["trial_id"])]
    assert ran == archs, "plain Ray Tune ran other architectures (or in another order) than raynas"
    assert all(r.metrics["epoch"] == epochs for r in results)
    return elapsed, statistics.mean(r.metrics["train_seconds"] for r in results)


# --- the raynas arm --------------------------------------------------------------------------------------------

def raynas_search(task: Path, archs: list[dict], *, epochs: int, concurrent: int, seed: int, workdir: str,
                  name: str, mlflow: bool, split_sizes: tuple[int, int],
                  tracking_uri: str | None = None) -> tuple[float, float]:
    from raynas.data import DataSplit
    from raynas.tracking import TrialStore
    from raynas.tune import run_search

    config = search_config(task, workdir, name, trials=len(archs), concurrent=concurrent, seed=seed, mlflow=mlflow,
                           tracking_uri=tracking_uri)
    start = time.perf_counter()
    result = run_search(config, progress_interval_s=1e9)
    elapsed = time.perf_counter() - start
    assert result.status == "completed" and result.counts["completed"] == len(archs), result.status_line()
    records = sorted(TrialStore(result.store_dir).records(), key=lambda r: r.number)
    assert [r.arch for r in records] == archs, "raynas ran other architectures than the plain arm"
    assert all((r.history[-1] if r.history else r.metrics)["epoch"] == epochs for r in records)
    if mlflow:
        report = result.extra["mlflow"]
        assert not report.get("pending") and not report.get("refused"), report
    split = DataSplit.load(Path(config.experiment_dir) / "split.parquet")
    assert (len(split.stage1_train), len(split.stage1_val)) == split_sizes, "the two arms train on different sizes"
    return elapsed, statistics.mean(r.metrics["train_seconds"] for r in records)


def warm_imports() -> None:
    """Import what either arm imports in this process, so that no arm pays the interpreter's first imports."""
    import mlflow.tracking  # noqa: F401 - raynas's final MLflow sync runs in this process
    import ray.tune  # noqa: F401
    import sklearn.datasets  # noqa: F401
    import torch  # noqa: F401

    import raynas.data  # noqa: F401
    import raynas.tracking  # noqa: F401
    import raynas.tune  # noqa: F401


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=24, help="trials per run (at most 30, the space's size)")
    parser.add_argument("--concurrent", type=int, default=2, help="trials at once (max_concurrent), 1 CPU each")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each arm (medians are compared)")
    parser.add_argument("--epochs", type=int, default=15, help="epochs per trial (a full pass over ~1,290 digits)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-mlflow-off-arm", action="store_true", help="skip the raynas arm with MLflow off")
    parser.add_argument("--fresh-store", action="store_true",
                        help="a new MLflow SQLite store per raynas run (a workdir's first search: MLflow creates its "
                             "tables, ~8 s here); default: one store made before timing, as every later search finds it")
    parser.add_argument("--smoke", action="store_true", help=f"CI smoke run, sizes {SMOKE} unless given")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # the embedded SQLite store under the temp work dir

    import ray

    arms = ["plain", "raynas"] + ([] if args.no_mlflow_off_arm else ["raynas-no-mlflow"])
    walls: dict[str, list[float]] = {arm: [] for arm in arms}
    inside: dict[str, list[float]] = {arm: [] for arm in arms}  # mean seconds in the user's function per trial
    warm_imports()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-user-trainer-") as tmp:
        task = write_project(Path(tmp) / "project", args.epochs)
        archs = presample(task, trials=args.trials, seed=args.seed)
        split_sizes = (1294, 144)  # what the plain arm's digits() gives: 1,438 training digits, 10% of them held out
        common = {"epochs": args.epochs, "concurrent": args.concurrent, "seed": args.seed}
        shared = None
        if not args.fresh_store:  # the workdir's store, as a search after the first finds it (tables made)
            from mlflow import MlflowClient

            shared = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
            MlflowClient(shared).search_experiments()
        for run in range(args.repeats):
            for arm in (arms if run % 2 == 0 else arms[::-1]):
                work = Path(tmp) / f"{arm}-{run}"
                if arm == "plain":
                    wall, trial_s = plain_tune(task.parent, archs, storage=str(work), name="plain", **common)
                else:
                    wall, trial_s = raynas_search(task, archs, workdir=str(work), name=f"{arm}-{run}",
                                                  mlflow=arm == "raynas", split_sizes=split_sizes,
                                                  tracking_uri=shared, **common)
                shutil.rmtree(work, ignore_errors=True)
                walls[arm].append(wall)
                inside[arm].append(trial_s)
                print(f"run {run}: {arm:17s} {wall:7.1f} s  ({args.trials / wall:.3f} trials/s; "
                      f"{trial_s:.2f} s per trial in the user's function)", flush=True)
    ray.shutdown()
    median = {arm: statistics.median(times) for arm, times in walls.items()}
    print(f"\n{args.trials} trials (user trainer, digits MLP, {args.epochs} epochs each), {args.concurrent} concurrent, "
          f"1 CPU per trial, {os.cpu_count()} CPUs, median of {args.repeats} runs each "
          f"({time.perf_counter() - began:.0f} s in all)")
    store = "a new SQLite store each run" if args.fresh_store else "SQLite store made before timing"
    names = {"plain": f"{BASELINE} (baseline)", "raynas": f"raynas run_search, MLflow on ({store})",
             "raynas-no-mlflow": "raynas run_search, MLflow off"}
    for arm in arms:
        runs = ", ".join(f"{t:.1f}" for t in walls[arm])
        print(f"{names[arm]:50s}: {median[arm]:7.1f} s  {args.trials / median[arm]:.3f} trials/s  (runs: {runs}; "
              f"{statistics.median(inside[arm]):.2f} s per trial in the user's function)")
    for arm in arms[1:]:
        ratio = median["plain"] / median[arm]
        verdict = "passes" if ratio >= ACCEPT else "FAILS"
        print(f"throughput ratio {names[arm]} / {BASELINE} = {ratio:.3f}  (bar >= {ACCEPT}: {verdict})")


if __name__ == "__main__":
    main()
