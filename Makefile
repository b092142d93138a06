# Two commands for a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test

.PHONY: demo test test-oldest lint sanitize bench docs clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

$(STAMP): $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/filter_demo.py --outdir runs/demo
	rm -rf runs/demo/afgan
	$(PY) examples/train_afgan.py --outdir runs/demo --run-name afgan \
		--kimg 100 --tick 2 --snap 5 --minutes 8.5 --metrics eqt,eqt_frac
	$(PY) examples/gen_video.py --network runs/demo/afgan --mode translate \
		--output runs/demo/afgan/translate.gif

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -n 2 --dist worksteal -q --durations=15

# The whole suite on the oldest releases pyproject.toml admits, in a venv of its own (downloads
# that torch's CUDA build from PyPI, about 3 GB; run it when a change may need a newer torch).
OLDEST := .venv-oldest
OLDEST_PINS := torch==2.6.0 numpy==1.23.5 scipy==1.9.3 numba==0.59.1
test-oldest:
	test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install $(OLDEST_PINS) 'pytest>=7' 'hypothesis>=6.80' \
		'matplotlib>=3.6' 'pytest-xdist>=3.2' alias-free-torch==0.0.6 'julius>=0.2.7'
	$(OLDEST)/bin/python -m pip install --no-deps -e .
	$(OLDEST)/bin/python -c "import torch, numpy, scipy, numba; print('oldest:', \
		torch.__version__, numpy.__version__, scipy.__version__, numba.__version__)"
	$(OLDEST)/bin/python -m pytest -n 2 --dist worksteal -q

# The API reference, from the docstrings: docs/_build/html/index.html.
docs: $(STAMP)
	$(PY) -m sphinx -n -W --keep-going -b html docs docs/_build/html

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

# The CUDA kernels' race and bounds checks alone (part of `make test`; see the test's docstring).
sanitize: $(STAMP)
	$(PY) -m pytest -n 2 --dist worksteal -q tests/ops/test_cuda_sanitizers.py

bench: $(STAMP)
	$(PY) -m benchmarks.ops

clean:
	rm -rf $(VENV) $(OLDEST) runs .pytest_cache .hypothesis .mypy_cache docs/_build build dist *.egg-info
