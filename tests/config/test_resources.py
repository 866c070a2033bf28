"""The one resources type: its rules (the ones Ray accepts), and that every config holding resources agrees with it."""

from __future__ import annotations

import math

import pytest

from raynas.config import Resources, SearchConfig
from raynas.errors import ConfigError


@pytest.mark.parametrize("cpus, gpus", [
    (1, 0), (0.5, 0), (1.5, 0),  # CPUs are divisible: any fraction
    (0, 1), (0, 0.25),  # a GPU trial needs no CPU
    (2, 0.5), (4, 2), (1, 1.0),  # a shared GPU, or whole GPUs
    (0.0001, 0),  # Ray's smallest amount
])
def test_resources_ray_accepts_are_accepted(cpus, gpus):
    r = Resources(cpus_per_trial=cpus, gpus_per_trial=gpus)
    assert (r.cpus_per_trial, r.gpus_per_trial) == (float(cpus), float(gpus))
    assert isinstance(r.cpus_per_trial, float) and isinstance(r.gpus_per_trial, float)


@pytest.mark.parametrize("cpus, gpus, field, hint", [
    (0, 0, "cpus_per_trial", "a positive number when gpus_per_trial is 0"),  # Ray refuses an all-zero bundle
    (1, 1.5, "gpus_per_trial", "a fraction below 1 or a whole number"),  # 1.5 GPUs would wait forever
    (1, 2.25, "gpus_per_trial", "a fraction below 1 or a whole number"),
    (-1, 1, "cpus_per_trial", ">= 0"),
    (1, -0.5, "gpus_per_trial", ">= 0"),
    (math.nan, 1, "cpus_per_trial", "finite"),
    (1, math.inf, "gpus_per_trial", "finite"),
    (True, 0, "cpus_per_trial", "finite number"),
    ("1", 0, "cpus_per_trial", "finite number"),
    (1, 0.00001, "gpus_per_trial", "0.0001"),  # below Ray's resource precision
])
def test_resources_ray_refuses_are_refused_naming_field_value_and_fix(cpus, gpus, field, hint):
    with pytest.raises(ConfigError) as info:
        Resources(cpus_per_trial=cpus, gpus_per_trial=gpus)
    assert info.value.field == field and hint in str(info.value)
    assert "Fix:" in str(info.value)


@pytest.mark.parametrize("value, ok", [(1, True), (8, True), (2.0, True), (0, False), (-2, False), (2.5, False),
                                       (True, False), ("4", False), (math.inf, False)])
def test_max_concurrent_is_a_whole_number_of_at_least_one(value, ok):
    if ok:
        r = Resources(max_concurrent=value)
        assert r.max_concurrent == int(value) and type(r.max_concurrent) is int
    else:
        with pytest.raises(ConfigError, match="max_concurrent.*an integer >= 1"):
            Resources(max_concurrent=value)


@pytest.mark.parametrize("device, ok", [("auto", True), ("cpu", True), ("cuda", True), ("cuda:1", True),
                                        ("gpu", False), ("cuda:x", False), ("", False), (0, False)])
def test_device(device, ok):
    if ok:
        assert Resources(device=device).device == device
    else:
        with pytest.raises(ConfigError, match="device.*auto, cpu, cuda or cuda:N"):
            Resources(device=device)


def test_overrides_are_validated_as_a_whole():
    gpu = Resources(cpus_per_trial=1, gpus_per_trial=1, max_concurrent=2)
    assert gpu.with_overrides(cpus_per_trial=0) == Resources(cpus_per_trial=0, gpus_per_trial=1, max_concurrent=2)
    with pytest.raises(ConfigError, match="cpus_per_trial"):
        Resources(cpus_per_trial=0, gpus_per_trial=1).with_overrides(gpus_per_trial=0)
    assert gpu.to_dict() == {"cpus_per_trial": 1.0, "gpus_per_trial": 1.0, "max_concurrent": 2, "device": "auto"}


def test_proxy_resources_is_the_same_class():
    from raynas.proxy import DesignTarget
    from raynas.proxy import Resources as ProxyResources

    assert ProxyResources is Resources
    with pytest.raises(ConfigError, match="resources"):
        DesignTarget(resources={"cpus_per_trial": 1})


# --- the four users agree -------------------------------------------------------------------------------------

def _verdicts(**values) -> dict[str, str]:
    """What SearchConfig, WorkflowConfig, the proxy tools' Resources and Stage2Settings say about the same values:
    'ok' or the field of the ConfigError."""
    from raynas.stage2 import Stage2Settings
    from raynas.workflow._config import workflow_from_dict

    makers = {
        "search": lambda: SearchConfig.from_dict({"name": "r", **values}),
        "workflow": lambda: workflow_from_dict({"name": "r", **values}),
        "proxy": lambda: Resources(**values),
        "stage2": lambda: Stage2Settings(**values),
    }
    out = {}
    for who, make in makers.items():
        try:
            make()
            out[who] = "ok"
        except ConfigError as exc:
            out[who] = exc.field
    return out


@pytest.mark.parametrize("values, verdict", [
    ({"cpus_per_trial": 0, "gpus_per_trial": 0}, "cpus_per_trial"),
    ({"cpus_per_trial": 1, "gpus_per_trial": 1.5}, "gpus_per_trial"),
    ({"cpus_per_trial": 1, "gpus_per_trial": 3}, "ok"),
    ({"cpus_per_trial": 0, "gpus_per_trial": 0.5}, "ok"),
    ({"cpus_per_trial": 0.5, "gpus_per_trial": 0}, "ok"),
    ({"cpus_per_trial": -1, "gpus_per_trial": 1}, "cpus_per_trial"),
    ({"cpus_per_trial": 1, "gpus_per_trial": 0.00001}, "gpus_per_trial"),
    ({"cpus_per_trial": 1, "gpus_per_trial": 0, "max_concurrent": 0}, "max_concurrent"),
    ({"cpus_per_trial": 1, "gpus_per_trial": 0, "max_concurrent": 2.5}, "max_concurrent"),
    ({"cpus_per_trial": 1, "gpus_per_trial": 0, "max_concurrent": 3}, "ok"),
])
def test_search_workflow_proxy_and_stage2_give_the_same_verdict(values, verdict):
    assert _verdicts(**values) == {"search": verdict, "workflow": verdict, "proxy": verdict, "stage2": verdict}


def test_stage2_resources_fill_in_the_search_config():
    from raynas.stage2 import Stage2Settings

    cpu_search = SearchConfig(name="s", gpus_per_trial=0, cpus_per_trial=2, max_concurrent=3)
    assert Stage2Settings().resources(cpu_search) == cpu_search.resources
    assert Stage2Settings(gpus_per_trial=1, max_concurrent=1).resources(cpu_search) == Resources(
        cpus_per_trial=2, gpus_per_trial=1, max_concurrent=1)
    # cpus_per_trial 0 alone is fine for stage 2 (it may take the search's GPUs), not with a CPU search
    with pytest.raises(ConfigError, match="cpus_per_trial.*when gpus_per_trial is 0"):
        Stage2Settings(cpus_per_trial=0).resources(cpu_search)
    gpu_search = SearchConfig(name="s", gpus_per_trial=1)
    assert Stage2Settings(cpus_per_trial=0).resources(gpu_search).cpus_per_trial == 0


def test_search_config_normalises_through_resources():
    config = SearchConfig.from_dict({"max_concurrent": 2.0, "gpus_per_trial": 0})
    assert config.max_concurrent == 2 and type(config.max_concurrent) is int
    assert config.resources == Resources(cpus_per_trial=1, gpus_per_trial=0, max_concurrent=2)
    with pytest.raises(ConfigError, match="device"):
        SearchConfig.from_dict({"device": "tpu"})
