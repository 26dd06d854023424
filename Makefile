# sesiam_lib: every target sets up its own virtual environment (.venv) first, so a fresh clone needs only Python.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PRESET ?= tmnist_smnist
PYTEST_ARGS ?=

.PHONY: setup test reproduce smoke notebooks lab bench clean-results

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install sesiam_lib with its test extras

test: $(STAMP)  ## run the test suite (what CI runs)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

reproduce: $(STAMP)  ## the main job on the embedded default: notebook 01 headless into results/equivariance
	cd notebooks && ../$(BIN)/python -m papermill --log-level WARNING -k python3 \
	    01_equivariance.ipynb ../results/equivariance/01_equivariance.ipynb -p results_root ../results

lab: $(STAMP)  ## open the notebooks in JupyterLab with the project's environment
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)  ## print the measured speed/equivariance figures
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done
