# Two entry points (see README): `make demo` and `make test`. Both create .venv and install first.
# `make demo` installs slmsim and its runtime dependencies only; `make test` adds the test extras
# (pytest, jsonschema, playwright, psycopg2) on top, once: each has its own stamp.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.test-extras-stamp

.PHONY: demo test install clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/slmsim simulate --hw orin-nano --model llama-3.2-3b
	$(BIN)/slmsim simulate --hw edgecim --model qwen3-4b --act-bits 8
	$(BIN)/slmsim explore examples/space-demo.yaml --trials 40 --out demo-out

test: $(TEST_STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info
