# sesiam_lib: every target sets up its own virtual environment (.venv) first, so a fresh clone needs only Python.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: setup test reproduce reproduce-3seeds smoke notebooks lab bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install sesiam_lib with its test extras

test: $(STAMP)  ## run the test suite (what CI runs)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

reproduce: $(STAMP)  ## the main job on the embedded default: the synthetic T-MNIST/S-MNIST reproduction
	$(BIN)/python -m sesiam_lib.pipeline --preset tmnist_smnist

reproduce-3seeds: $(STAMP)  ## the same over three training seeds (mean ± std), about an hour
	$(BIN)/python -m sesiam_lib.pipeline --preset tmnist_smnist_3seeds

smoke: $(STAMP)  ## every notebook end to end on a tiny synthetic set (a couple of minutes)
	$(BIN)/python -m sesiam_lib.pipeline --preset smoke --results-root runs/smoke-results

notebooks: $(STAMP)  ## regenerate the notebooks' source from tools/make_notebooks.py
	$(BIN)/python tools/make_notebooks.py

lab: $(STAMP)  ## open the notebooks in JupyterLab with the project's environment
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)  ## print the measured speed/equivariance figures
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done
