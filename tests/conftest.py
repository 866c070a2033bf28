"""Shared fixtures: one local Ray cluster for the in-process search tests."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray instance (2 CPUs, no GPU), shared by the tests of one session."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
