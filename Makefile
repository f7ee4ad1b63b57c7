# Two front-door targets: `make demo` (set up, upscale examples/ with the shipped model)
# and `make test` (set up, lint with ruff, run the tests). Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test,openvino]'
	touch $@

.PHONY: demo test bench
demo: $(VENV)/.installed
	$(VENV)/bin/i2i upscale examples/inputs/ -o out/ --overwrite

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) -m benchmarks
