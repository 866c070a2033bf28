# Set-up and entry points. `make demo` and `make test` are the README's two quickstart commands.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU wheel of PyTorch (GPU users: a plain `pip install raynas` resolves a CUDA build instead).
TORCH  ?= torch==2.13.0

.PHONY: setup demo test test-fast lint docs bench bench-smoke screenshot clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed  ## create .venv and install raynas with its test tools

demo: setup  ## the main job: the whole workflow on the bundled MNIST-1D task, on local Ray (embedded defaults)
	$(BIN)/raynas run

test: lint docs  ## lint, types, layers, the docs site, then the whole test suite (two pytest workers, a file each)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests

lint: setup  ## ruff, mypy on the pure core, import-linter's layer contracts (pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

docs: setup  ## the docs site, every link and anchor checked (site in build/site)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -d build/site

test-fast: setup  ## tests that need no Ray cluster
	$(BIN)/python -m pytest -q -m "not ray" tests

bench: setup  ## benchmarks: ratios against baselines measured in the same run
	$(BIN)/python bench/tune_overhead.py
	$(BIN)/python bench/controller_speed.py
	$(BIN)/python bench/trainer_throughput.py
	$(BIN)/python bench/mlflow_overhead.py
	$(BIN)/python bench/proxy_estimate.py
	$(BIN)/python bench/proxy_search_parallel.py
	$(BIN)/python bench/user_trainer_overhead.py
	$(BIN)/python bench/image_folder_memory.py
	$(BIN)/python bench/mnist1d_search_quality.py

bench-smoke: setup  ## every bench/ script on its smallest sizes: a benchmark cannot break unseen
	$(BIN)/python bench/smoke.py

screenshot: setup  ## docs/images/mlflow-ui.png (needs Debian's chromium; installs Playwright for Python)
	$(BIN)/pip install --quiet playwright
	$(BIN)/python docs/mlflow_ui_screenshot.py
	$(BIN)/python docs/report_screenshot.py

clean:
	rm -rf $(VENV) raynas-work .pytest_cache build/site
