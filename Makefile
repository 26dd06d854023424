# sesiam_lib: every target sets up its own virtual environment (.venv) first, so a fresh clone needs only Python.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: setup test reproduce reproduce-update reproduce-3seeds synthetic-v2 smoke notebooks lab bench lock gpu-check

# Installs exactly requirements.lock (what CI tested: every package pinned, dependencies of dependencies too, the
# test and vot extras included) without resolving again, then the package itself. `make lock` refreshes the lock.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install sesiam_lib with its test extras

test: $(STAMP)  ## run the test suite (what CI runs)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

reproduce: $(STAMP)  ## the main job: compute the synthetic T-MNIST/S-MNIST reproduction anew, compare with results/
	$(BIN)/python -m sesiam_lib.pipeline.reproduce --preset tmnist_smnist

reproduce-update: $(STAMP)  ## the same, then make the new run the committed reference (review, then commit)
	$(BIN)/python -m sesiam_lib.pipeline.reproduce --preset tmnist_smnist --update-reference

reproduce-3seeds: $(STAMP)  ## the same over three training seeds (mean ± std), about an hour
	$(BIN)/python -m sesiam_lib.pipeline --preset tmnist_smnist_3seeds

synthetic-v2: $(STAMP)  ## the pre-registered v2 protocol (results/README.md): hours on a CPU; re-run to resume
	$(BIN)/python -m sesiam_lib.pipeline --preset synthetic_v2

smoke: $(STAMP)  ## every notebook end to end on a tiny synthetic set (a couple of minutes)
	$(BIN)/python -m sesiam_lib.pipeline --preset smoke --results-root runs/smoke-results

notebooks: $(STAMP)  ## sync each notebooks/*.py (percent format) with its .ipynb, whichever was edited last
	$(BIN)/jupytext --sync notebooks/*.ipynb

lab: $(STAMP)  ## open the notebooks in JupyterLab with the project's environment
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)  ## print the measured speed/equivariance figures
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lock: $(STAMP)  ## refresh requirements.lock from pyproject.toml's ranges (then run `make test` and commit both)
	$(BIN)/python -m pip install --quiet "pip-tools>=7.4"
	# opencv-python (vot-toolkit's GUI build of cv2, which needs libGL) is left out: opencv-python-headless
	# provides the same cv2 module
	$(BIN)/pip-compile --quiet --upgrade --extra test --extra vot --strip-extras --no-emit-index-url \
		--no-emit-find-links --unsafe-package opencv-python --output-file requirements.lock pyproject.toml
	# a local build tag (+cpu) pins one wheel index; the plain version matches the CPU and the CUDA builds
	sed -i -E 's/^(torch==[0-9.]+)\+[a-z0-9]+/\1/' requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -r requirements.lock

gpu-check: $(STAMP)  ## on a CUDA machine: CUDA tests, fast paths vs reference, AMP/torchrun steps, tracker FPS (JSON report)
	$(BIN)/python benchmarks/gpu_check.py
