# Two commands for a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test

.PHONY: demo test lint sanitize bench clean

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
	$(PY) -m pytest -n 2 -q

lint: $(STAMP)
	$(PY) -m ruff check .

# The CUDA kernels' race and bounds checks alone (part of `make test`; see the test's docstring).
sanitize: $(STAMP)
	$(PY) -m pytest -q tests/ops/test_cuda_sanitizers.py

bench: $(STAMP)
	$(PY) -m benchmarks.ops

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
