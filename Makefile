# Two front-door targets: `make demo` (set up, upscale examples/ with the shipped model)
# and `make test` (set up, lint with ruff, run the fast tests). Both create .venv on first use.
# `make test-slow` runs the long end-to-end tests (marked slow); CI runs both.
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test,openvino,bench,ui,ray]'
	touch $@

.PHONY: demo test test-slow bench retrain
demo: $(VENV)/.installed
	$(VENV)/bin/i2i upscale examples/inputs/ -o out/ --overwrite

# --durations: the slowest tests are printed, so that drift shows. -n 2: two pytest-xdist workers
# (the fast tests are mostly single-threaded CLI runs; two cores run them side by side).
test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "not slow" -n 2 --durations=15

test-slow: $(VENV)/.installed
	$(PY) -m pytest -q -m slow --durations=15

bench: $(VENV)/.installed
	$(PY) -m benchmarks

# Retrain the shipped models with their full-size recipes into runs/retrain-CANDIDATES (never
# weights/), e.g. on a CUDA machine: make retrain MINUTES=45 MODELS="style-starry-night colorize"
MINUTES ?= 60
MODELS ?=
retrain: $(VENV)/.installed
	$(PY) scripts/retrain_shipped.py --minutes $(MINUTES) $(if $(MODELS),--models $(MODELS))
