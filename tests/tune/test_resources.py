"""Resource checks before a search starts: refused on a local Ray instance, only warned about on a cluster."""

from __future__ import annotations

import pytest

from raynas.errors import ConfigError
from raynas.tune import check_resources

pytestmark = pytest.mark.ray


def test_trials_that_can_never_run_on_the_local_instance_are_refused_with_the_fix(ray_cluster, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ConfigError) as gpus:
        check_resources(cpus_per_trial=1, gpus_per_trial=2, ray_address=None)
    assert "gpus_per_trial" in str(gpus.value) and "gpus_per_trial: 0" in str(gpus.value)
    with pytest.raises(ConfigError) as cpus:
        check_resources(cpus_per_trial=4, gpus_per_trial=0, ray_address=None)
    assert "cpus_per_trial" in str(cpus.value) and "(2 here)" in str(cpus.value)


@pytest.mark.parametrize("where", ["config", "environment"])
def test_on_a_cluster_missing_gpus_only_warn_because_the_autoscaler_adds_workers(ray_cluster, monkeypatch, capsys,
                                                                                 where):
    """A fresh autoscaling cluster has no GPU worker yet and a head with no CPU for trials: the search must start
    and wait, whether the address comes from the config (`ray_address`) or from RAY_ADDRESS (`ray submit`)."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    address = "auto"
    if where == "environment":
        monkeypatch.setenv("RAY_ADDRESS", "auto")
        address = None
    check_resources(cpus_per_trial=24, gpus_per_trial=2, ray_address=address)
    assert "trials wait until the autoscaler adds GPU workers" in capsys.readouterr().err
