"""Package list only (everything else is in pyproject.toml).

The bundled model families (``search_spaces/``) and tasks (``proxy_tasks/``) stay top-level folders of the
repository but are installed inside the package, as ``raynas.search_spaces`` and ``raynas.proxy_tasks``
(``package_dir``), so that an installed raynas finds them from any directory. pyproject.toml cannot both find
the ``raynas*`` packages automatically and add these two mapped ones, hence this file.
"""

from setuptools import find_namespace_packages, setup

BUNDLED = {"raynas.search_spaces": "search_spaces", "raynas.proxy_tasks": "proxy_tasks"}

# namespace packages too, as pyproject's `packages.find` did: raynas/examples and raynas/benchmarks/data hold data only
PACKAGES = find_namespace_packages(include=["raynas", "raynas.*"], exclude=["*__pycache__*"])

setup(packages=PACKAGES + list(BUNDLED), package_dir=BUNDLED)
