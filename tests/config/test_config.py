"""Search config: defaults, validation messages, YAML loading, and fuzzing for tracebacks."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raynas.config import SearchConfig, load_search_config
from raynas.errors import ConfigError, RaynasError, UnknownNameError


def test_defaults_follow_the_workflow():
    config = SearchConfig.from_dict({"max_trials": 300})
    assert config.max_failed == 100  # ceil(max_trials / 3)
    assert config.gpus_per_trial == 2
    assert config.timeout_s == 14 * 86400
    assert SearchConfig.from_dict({"max_trials": 10}).max_failed == 4


@pytest.mark.parametrize("data, field, hint", [
    ({"max_trails": 5}, "max_trails", "did you mean 'max_trials'"),
    ({"max_concurrent": 0}, "max_concurrent", ">= 1"),
    ({"max_trials": 10, "max_failed": 11}, "max_failed", "at most max_trials"),
    ({"gpus_per_trial": 1.5}, "gpus_per_trial", "fraction"),
    ({"gpus_per_trial": -1}, "gpus_per_trial", ">= 0"),
    ({"timeout": "soon"}, "timeout", "duration"),
    ({"mode": "maximum"}, "mode", "'max' or 'min'"),
    ({"controller": {"name": "evolution", "sample_sise": 2}}, "controller.sample_sise", "sample_size"),
    ({"benchmark": {"variant": "medium"}}, "benchmark.variant", "proxy"),
    ({"benchmark": {"failure_rat": 0.1}}, "benchmark.failure_rat", "failure_rate"),
    ({"name": "bad name!"}, "name", "letters"),
])
def test_bad_values_name_the_field_and_the_fix(data, field, hint):
    with pytest.raises(ConfigError) as info:
        SearchConfig.from_dict(data, source="search.yaml")
    text = str(info.value)
    assert text.startswith("search.yaml: ") and field in text and hint in text


def test_unknown_names_suggest_the_closest():
    with pytest.raises(UnknownNameError, match="did you mean 'nasbench201'"):
        SearchConfig.from_dict({"space": "nasbench-201"})
    with pytest.raises(UnknownNameError, match="did you mean 'evolution'"):
        SearchConfig.from_dict({"controller": "evolutoin"})


def test_oversize_space_fails_before_anything_runs(monkeypatch):
    from raynas import registry
    from raynas.space import SearchSpace, one_of

    def huge():
        return SearchSpace({f"d{i}": one_of(*range(10)) for i in range(21)}, name="huge", allow_huge=True)

    monkeypatch.setitem(registry.BUILTIN_SPACES, "huge", "tests.config.test_config:_unused")
    monkeypatch.setattr(registry, "get_space", lambda name: huge())
    config = SearchConfig.from_dict({"space": "huge"})
    with pytest.raises(RaynasError, match="Split it"):
        config.validate_deep()
    SearchConfig.from_dict({"space": "huge", "allow_huge_space": True}).validate_deep()


def test_yaml_loading(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("name: demo\nmax_trials: 20\ncontroller: random\ngpus_per_trial: 0\ntimeout: 2h\n")
    config = load_search_config(good)
    assert (config.name, config.max_trials, config.controller.name, config.timeout_s) == ("demo", 20, "random", 7200)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: demo\nmax_trials: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: YAML.*line"):
        load_search_config(bad)
    with pytest.raises(ConfigError, match="existing YAML file"):
        load_search_config(tmp_path / "missing.yaml")
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_search_config(listing)


def test_config_round_trips_through_to_dict():
    config = SearchConfig.from_dict({"name": "x", "controller": {"name": "evolution", "population_size": 8},
                                     "fixed": {"cell.0->1": "none"}, "benchmark": {"failure_rate": 0.1}})
    assert SearchConfig.from_dict(config.to_dict()) == config
    assert config.build_space().size == 5**5


_keys = st.sampled_from(["name", "space", "task", "variant", "scheduler",
                         "max_trials", "max_concurrent", "max_failed", "gpus_per_trial",
                         "cpus_per_trial", "timeout", "metric", "mode", "controller", "seed", "workdir", "fixed",
                         "allow_huge_space", "benchmark", "ray_address", "max_trial", "bogus", "Controller"])
_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
              st.text(max_size=12), st.sampled_from(["evolution", "random", "nasbench201", "max", "2h", "-1d"])),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.sampled_from(
                                   ["name", "population_size", "variant", "failure_rate", "table"])), children,
                                   max_size=3)),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.dictionaries(_keys, _values, max_size=6), _values))
def test_generated_malformed_configs_end_in_a_clear_error_never_a_traceback(data):
    try:
        config = SearchConfig.from_dict(data, source="fuzz.yaml")
        config.validate_deep()
    except RaynasError as exc:
        assert str(exc) and "Traceback" not in str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_generated_yaml_text_never_raises_anything_but_config_errors(tmp_path, text):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text)
    try:
        load_search_config(path).validate_deep()
    except RaynasError:
        pass


def test_yaml_dump_of_defaults_loads_back(tmp_path):
    path = tmp_path / "defaults.yaml"
    path.write_text(yaml.safe_dump(SearchConfig().to_dict()))
    assert load_search_config(path) == SearchConfig()


def test_scheduler_section():
    config = SearchConfig.from_dict({"scheduler": {"name": "asha", "grace_period": 2}})
    assert config.scheduler.name == "asha" and config.scheduler.options == {"grace_period": 2}
    assert SearchConfig.from_dict({"scheduler": "median"}).scheduler.name == "median"
    with pytest.raises(UnknownNameError, match="did you mean 'asha'"):
        SearchConfig.from_dict({"scheduler": "ashaa"})
    with pytest.raises(ConfigError, match="scheduler.grace"):
        SearchConfig.from_dict({"scheduler": {"name": "asha", "grace": 2}})
    with pytest.raises(ConfigError, match="scheduler.max_t"):
        SearchConfig.from_dict({"scheduler": {"name": "hyperband", "max_t": 0}})
