"""cluster.yaml (the Ray cluster launcher config) passes Ray's own checks and keeps the properties raynas needs;
raynas/cluster/launcher.py sets the cluster defaults without starting anything."""

from __future__ import annotations

import copy
import importlib.util
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_YAML = ROOT / "cluster.yaml"
LAUNCHER = ROOT / "raynas" / "cluster" / "launcher.py"
README = ROOT / "docs" / "cluster.md"   # the docs page that shows the cluster commands
SHARED_MOUNT = "/mnt/raynas"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load(CLUSTER_YAML.read_text())


def load_launcher():
    """The launcher as `ray submit` runs it: a file on its own, imported by path."""
    spec = importlib.util.spec_from_file_location("raynas_cluster_launcher_under_test", LAUNCHER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def words(commands: list[str]) -> list[list[str]]:
    return [shlex.split(cmd.replace(";", " ; ")) for cmd in commands]


# --- Ray's own validation -----------------------------------------------------------------------------------------
def test_ray_schema_accepts_the_file_as_written(config):
    from ray.autoscaler._private.util import validate_config

    validate_config(copy.deepcopy(config))


def test_ray_accepts_it_after_filling_in_defaults_as_ray_up_does(config):
    """`ray up` runs prepare_config (defaults, merged setup commands, per-type worker limits: all offline) and
    validates the result; the GCP-specific steps after that need credentials and are not run here."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    assert prepared["available_node_types"]["head"]["max_workers"] == 0
    assert "pip install -q -e /home/ray/raynas" in prepared["head_setup_commands"]
    assert "pip install -q -e /home/ray/raynas" in prepared["worker_setup_commands"]


@pytest.mark.parametrize("path, typo", [
    ((), "available_node_type"),                      # top level
    (("docker",), "run_option"),                      # Docker section
    (("available_node_types", "gpu2"), "resource"),   # a node type
])
def test_a_misspelled_key_is_rejected(config, path, typo):
    from ray.autoscaler._private.util import prepare_config, validate_config

    broken = copy.deepcopy(config)
    section = broken
    for key in path:
        section = section[key]
    right = {"available_node_type": "available_node_types", "run_option": "run_options", "resource": "resources"}[typo]
    section[typo] = section.pop(right)
    with pytest.raises(jsonschema.ValidationError):
        validate_config(copy.deepcopy(broken))
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(broken))


# --- what raynas needs from the cluster -----------------------------------------------------------------------------
def test_gcp_with_a_placeholder_project(config):
    provider = config["provider"]
    assert provider["type"] == "gcp"
    assert provider["project_id"] == "my-gcp-project"
    lines = CLUSTER_YAML.read_text().splitlines()
    i = next(i for i, line in enumerate(lines) if line.strip() == "project_id: my-gcp-project")
    assert lines[i - 1].strip().startswith("# Replace") and "project id" in lines[i - 1]  # says what to do


def test_head_runs_no_trials(config):
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"] == {"CPU": 0}
    assert "GPU" not in head["resources"]
    assert "guestAccelerators" not in head["node_config"]
    assert not head.get("min_workers") and not head.get("max_workers")


def test_two_gpu_workers_autoscale(config):
    workers = {name: t for name, t in config["available_node_types"].items() if name != config["head_node_type"]}
    gpu2 = workers["gpu2"]
    assert gpu2["resources"]["GPU"] == 2
    assert gpu2["min_workers"] == 0 and 1 <= gpu2["max_workers"] <= config["max_workers"]
    node = gpu2["node_config"]
    (accel,) = node["guestAccelerators"]
    assert accel["acceleratorCount"] == gpu2["resources"]["GPU"]
    assert accel["acceleratorType"] == "nvidia-l4" and node["machineType"] == "g2-standard-24"
    assert gpu2["resources"]["CPU"] == 24                    # g2-standard-24
    # One object, as the GCP API expects (not a list of one-key objects).
    assert node["scheduling"] == {"onHostMaintenance": "TERMINATE"}


def test_images_pin_the_ray_and_python_versions_raynas_uses(config):
    import ray

    docker = config["docker"]
    assert docker["head_image"] == f"rayproject/ray:{ray.__version__}-py311-cpu"
    assert docker["worker_image"] == f"rayproject/ray:{ray.__version__}-py311-gpu"
    assert "--gpus all" in docker["worker_run_options"]


def test_shared_storage_is_mounted_on_hosts_and_in_containers(config):
    assert f"--volume {SHARED_MOUNT}:{SHARED_MOUNT}" in config["docker"]["run_options"]
    init = " ".join(config["initialization_commands"])
    assert re.search(rf"mount -t nfs (?:-o \S+ )?\S+:/\S* {SHARED_MOUNT}(?:\s|\))", init), init
    assert f"{SHARED_MOUNT}/work" in init                           # the raynas workdir exists and is writable
    launcher = load_launcher()
    assert launcher.SHARED_WORKDIR == f"{SHARED_MOUNT}/work"


def test_raynas_is_copied_and_installed(config):
    mounts = config["file_mounts"]
    assert mounts["/home/ray/raynas"] == "."
    assert mounts["/home/ray/.ray/auth_token"] == "~/.ray/auth_token"
    for pattern in (".venv", ".git", "raynas-work", "**/__pycache__"):
        assert pattern in config["rsync_exclude"]
    assert any(cmd.startswith("pip install") and "-e /home/ray/raynas" in cmd for cmd in config["setup_commands"])


def test_ray_starts_with_token_auth_and_a_localhost_dashboard(config):
    head = words(config["head_start_ray_commands"])
    (start,) = [w for w in head if "ray" in w and "start" in w]
    assert "RAY_AUTH_MODE=token" in start and "--head" in start
    assert "--dashboard-host=127.0.0.1" in start and "--dashboard-port=8265" in start
    assert not any(w.startswith("--dashboard-host=") and w != "--dashboard-host=127.0.0.1" for w in start)
    assert "--autoscaling-config=~/ray_bootstrap_config.yaml" in start
    (worker,) = [w for w in words(config["worker_start_ray_commands"]) if "start" in w]
    assert "RAY_AUTH_MODE=token" in worker and "--address=$RAY_HEAD_IP:6379" in worker
    assert head[0] == ["ray", "stop"]


def test_mlflow_server_on_localhost_with_sqlite_on_local_disk(config):
    (server,) = [w for w in words(config["head_start_ray_commands"]) if "mlflow" in w]
    server = [w for w in server if not re.fullmatch(r"[A-Z_]+=\S*", w)]  # environment settings before the command
    assert server[:3] == ["nohup", "mlflow", "server"] and server[-1] == "&"
    option = {server[i]: server[i + 1] for i in range(len(server) - 1) if server[i].startswith("--")}
    assert option["--host"] == "127.0.0.1" and option["--port"] == "5000"
    backend = option["--backend-store-uri"]
    assert backend == "sqlite:////home/ray/mlflow/mlflow.db"
    assert SHARED_MOUNT not in backend                                # never SQLite on NFS
    assert option["--artifacts-destination"].startswith(SHARED_MOUNT)
    start = config["head_start_ray_commands"]
    assert any(cmd.startswith("mkdir -p /home/ray/mlflow") for cmd in start[:start.index(
        next(c for c in start if "mlflow server" in c))])
    # The database directory is the head host's local disk, not the container's (Ray runs it with --rm).
    assert "--volume /var/lib/raynas/mlflow:/home/ray/mlflow" in config["docker"]["head_run_options"]
    assert launcher_tracking_uri() == "http://127.0.0.1:5000"


def launcher_tracking_uri() -> str:
    return load_launcher().DEFAULT_TRACKING_URI


# --- no credentials -------------------------------------------------------------------------------------------------
CREDENTIAL_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "Google OAuth token": re.compile(r"\bya29\.[0-9A-Za-z_\-]+"),
    "service account key file": re.compile(r"\"?(?:private_key_id|private_key|client_secret)\"?\s*:"),
    "GitHub token": re.compile(r"\bgh[pousr]_[0-9A-Za-z]{20,}\b"),
    "assigned secret": re.compile(
        r"(?i)\b(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)\b[ \t]*[:=][ \t]*['\"]?[^\s'\"#]{4,}"),
    "credentials in a URI": re.compile(r"\b[a-z][a-z0-9+.\-]*://[^/\s:@]+:[^/\s@]+@"),
    "ssh key setting": re.compile(r"^\s*(?:ssh_private_key|KeyName)\s*:", re.MULTILINE),
}


def credentials_in(text: str) -> list[str]:
    return [f"{name}: {m.group(0)!r}" for name, pattern in CREDENTIAL_PATTERNS.items() for m in pattern.finditer(text)]


@pytest.mark.parametrize("leak", [
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "aws_key: AKIAIOSFODNN7EXAMPLE",
    "key: AIzaSyD-0123456789abcdefghijklmnopqrstu",
    "Authorization: Bearer ya29.a0AfH6SMBx",
    '  "private_key": "abc",',
    "token=3f8a9c0d1e2b",
    "  password: hunter22",
    "RAY_AUTH_TOKEN_VALUE: x  # fine\n  secret = s3cr3tvalue",
    "tracking_uri: https://alice:pa55word@mlflow.example.com",
    "auth:\n  ssh_private_key: ~/.ssh/id_rsa",
    "ghp_0123456789abcdefghijABCDEFGHIJ",
])
def test_the_credential_check_catches_leaks(leak):
    assert credentials_in(leak), leak


def test_cluster_yaml_holds_no_credentials(config):
    text = CLUSTER_YAML.read_text()
    assert credentials_in(text) == []
    assert set(config["auth"]) == {"ssh_user"}                       # Ray makes and registers its own SSH key
    # The token travels as a file from the user's machine; the config only names its path.
    assert "RAY_AUTH_TOKEN=" not in text


# --- README ----------------------------------------------------------------------------------------------------------
def test_readme_commands_name_files_that_exist():
    text = README.read_text()
    assert "## Running on a Ray cluster" in text
    submitted = set(re.findall(r"ray submit (?:--tmux )?(\S+) (\S+)", text))
    assert submitted, "README shows no `ray submit`"
    for cluster_file, script in submitted:
        assert (ROOT / cluster_file).is_file(), cluster_file
        assert (ROOT / script).is_file(), script
    for cluster_file in re.findall(r"ray (?:up|down|attach|exec|dashboard|rsync-up|rsync-down) (?:--\S+ )*(\S+\.yaml)",
                                   text):
        assert (ROOT / cluster_file).is_file(), cluster_file


# --- the launcher ----------------------------------------------------------------------------------------------------
@pytest.fixture
def launcher():
    return load_launcher()


@pytest.fixture
def shared(tmp_path) -> Path:
    path = tmp_path / "mnt-raynas-work"
    path.mkdir()
    return path


def test_launcher_defaults_to_the_cluster_the_head_mlflow_server_and_shared_storage(launcher, shared):
    argv, env = launcher.prepare(["train", "my-search", "--top-k", "10"], {}, shared_workdir=shared)
    assert env == {"RAY_ADDRESS": "auto", "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"}
    assert argv == ["train", "my-search", "--top-k", "10", "--workdir", str(shared)]


def test_launcher_keeps_what_the_user_set(launcher, shared):
    environ = {"RAY_ADDRESS": "ray://10.0.0.5:10001", "MLFLOW_TRACKING_URI": "http://mlflow.internal:5000"}
    argv, env = launcher.prepare(["resume", "my-search"], environ, shared_workdir=shared)
    assert env == {}
    assert argv == ["resume", "my-search", "--workdir", str(shared)]
    for given in (["resume", "x", "--workdir", "/data/w"], ["resume", "x", "--workdir=/data/w"],
                  ["monitor", "x", "--workd", "/data/w"]):
        assert launcher.prepare(given, environ, shared_workdir=shared)[0] == given


def test_launcher_adds_no_workdir_without_shared_storage(launcher, tmp_path):
    argv, env = launcher.prepare(["resume", "my-search"], {}, shared_workdir=tmp_path / "missing")
    assert argv == ["resume", "my-search"]
    assert env["RAY_ADDRESS"] == "auto"


@pytest.mark.parametrize("argv", [
    ["validate", "--config", "x.yaml"], ["space", "list"], ["controllers"], ["--version"], ["search", "--help"],
    ["no-such-command"], [],
])
def test_launcher_adds_no_workdir_where_raynas_takes_none(launcher, shared, argv, capsys):
    assert launcher.prepare(argv, {}, shared_workdir=shared)[0] == argv
    assert capsys.readouterr().out == ""                              # help and errors are left to raynas


@pytest.mark.parametrize("argv", [
    ["proxy", "search", "--task", "digits"], ["mlflow", "sync", "exp"], ["analyze", "exp", "-o", "out"],
    ["search"],                                                        # the embedded dry run
])
def test_launcher_adds_the_workdir_to_nested_and_default_commands(launcher, shared, argv):
    assert launcher.prepare(argv, {}, shared_workdir=shared)[0] == [*argv, "--workdir", str(shared)]


@pytest.mark.parametrize("workdir, kept", [
    (None, False),                      # no workdir: the shared one
    ("raynas-work", False),             # relative: would be the head's local disk
    ("/mnt/raynas/team-a", True),       # absolute: the user's choice
])
def test_launcher_respects_an_absolute_workdir_in_the_search_config(launcher, shared, tmp_path, workdir, kept):
    config = {"name": "my-search", "space": "nasbench201", **({"workdir": workdir} if workdir else {})}
    path = tmp_path / "my_search.yaml"
    path.write_text(yaml.safe_dump(config))
    argv = ["search", "--config", str(path)]
    expected = argv if kept else [*argv, "--workdir", str(shared)]
    assert launcher.prepare(argv, {}, shared_workdir=shared)[0] == expected
    workflow = ["run", str(path), "--steps", "search"]
    expected = workflow if kept else [*workflow, "--workdir", str(shared)]
    assert launcher.prepare(workflow, {}, shared_workdir=shared)[0] == expected


def test_launcher_main_sets_the_environment_and_runs_raynas(launcher, shared, monkeypatch, capsys):
    for name in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI"):
        monkeypatch.setenv(name, "placeholder")   # recorded, so the test's changes are undone afterwards
        monkeypatch.delenv(name)
    monkeypatch.setattr(launcher, "SHARED_WORKDIR", str(shared))
    seen = {}

    def fake_main(argv):
        import os

        seen.update(argv=argv, ray=os.environ.get("RAY_ADDRESS"), mlflow=os.environ.get("MLFLOW_TRACKING_URI"))
        return 3

    monkeypatch.setattr("raynas.cli.main", fake_main)
    assert launcher.main(["resume", "my-search"]) == 3
    assert seen == {"argv": ["resume", "my-search", "--workdir", str(shared)], "ray": "auto",
                    "mlflow": "http://127.0.0.1:5000"}
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Ray at auto" in err[0] and "MLflow at http://127.0.0.1:5000" in err[0]
    assert f"workdir {shared}" in err[0]


def test_launcher_main_returns_argparse_exit_codes(launcher, monkeypatch, tmp_path):
    monkeypatch.setenv("RAY_ADDRESS", "auto")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    monkeypatch.setattr(launcher, "SHARED_WORKDIR", str(tmp_path / "missing"))
    assert launcher.main(["no-such-command"]) == 2


def test_launcher_is_standalone():
    """`ray submit` copies the file alone: no relative imports, raynas only from the installed package."""
    source = LAUNCHER.read_text()
    assert not re.search(r"^\s*from \.", source, re.MULTILINE)
    assert "from __future__ import annotations" in source
    assert re.search(r"^def main\(argv: list\[str\] \| None = None\) -> int:", source, re.MULTILINE)
    assert source.rstrip().endswith("sys.exit(main())")


def test_launcher_line_warns_without_shared_storage(launcher, tmp_path):
    line = launcher.describe(["resume", "x"], {"RAY_ADDRESS": "auto"}, shared_workdir=tmp_path / "missing")
    assert "\n" not in line and "warning: no" in line and "Ray at auto" in line
    assert "warning" not in launcher.describe(["resume", "x"], {}, shared_workdir=tmp_path)
