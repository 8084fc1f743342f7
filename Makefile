# simlib — the two commands a user needs are `make demo` and `make test`.
# The first use of any target creates .venv and installs the project into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench lab system-deps clean-venv help

help:
	@echo "make demo   - run every shipped scenario as a notebook batch into outputs/demo and print the comparison"
	@echo "make test   - run the test suite (creates .venv on first use)"
	@echo "make lint   - ruff check"
	@echo "make bench  - speed and memory benchmarks (prints the figures)"
	@echo "make lab    - JupyterLab on localhost with the project's kernel, in notebooks/"
	@echo "make system-deps - Debian's Chromium (PDF briefings, browser tests) and a small CJK font"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>/dev/null
	$(BIN)/python -m pip install -qq -e ".[dev,dask]"
	touch $(STAMP)

# Briefings are printed to PDF by Debian's Chromium, and Chinese charts need a CJK font
# (WenQuanYi Micro Hei, 5 MB). Installed with apt when missing; skipped where already present.
CHROMIUM := $(firstword $(wildcard /usr/bin/chromium /usr/bin/chromium-browser))
CJK_FONT := $(firstword $(wildcard /usr/share/fonts/truetype/wqy/wqy-microhei.ttc))
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)

system-deps:
ifeq ($(and $(CHROMIUM),$(CJK_FONT)),)
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei >/dev/null
endif

demo: $(STAMP) system-deps
	$(BIN)/simlib demo

test: $(STAMP) system-deps
	$(BIN)/ruff check simlib tests benchmarks
	$(BIN)/python -m pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check simlib tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_cli.py

# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --no-browser --notebook-dir=notebooks $(ROOT_FLAG)

clean-venv:
	rm -rf $(VENV)
