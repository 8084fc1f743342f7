# simlib — the two commands a user needs are `make demo` and `make test`.
# The first use of any target creates .venv and installs the project into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench lab lock system-deps screenshots clean-venv help

help:
	@echo "make demo   - run every shipped scenario as a notebook batch into outputs/demo and print the comparison"
	@echo "make test   - run the test suite (creates .venv on first use)"
	@echo "make lint   - ruff check and the import contracts (lint-imports)"
	@echo "make lock   - upgrade the dependencies and pin them in requirements.lock"
	@echo "make bench  - speed and memory benchmarks (prints the figures)"
	@echo "make lab    - JupyterLab on localhost with the project's kernel, in notebooks/"
	@echo "make system-deps - Debian's Chromium (PDF briefings, browser tests) and a small CJK font"
	@echo "make screenshots - page one of the demo briefing (en, zh) as docs/images/*.png for the README"

# Installed from requirements.lock: the versions the tests passed with (run ids hash them).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>/dev/null
	$(BIN)/python -m pip install -qq -c requirements.lock -e ".[dev]"
	touch $(STAMP)

# After a deliberate upgrade: install the newest allowed versions, run the tests, then lock them.
lock:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade -e ".[dev]"
	{ head -3 requirements.lock; $(BIN)/python -m pip freeze --exclude-editable | grep -iv '^simlib'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

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
	$(BIN)/simlib demo --resume

test: $(STAMP) system-deps
	$(BIN)/ruff check simlib tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n 2

# Page one of the briefing, English and Chinese, photographed for the README (needs `make demo`).
screenshots: $(STAMP) system-deps
	test -f outputs/demo/manifest.json || $(BIN)/simlib demo
	$(BIN)/python docs/screenshots.py

lint: $(STAMP)
	$(BIN)/ruff check simlib tests benchmarks
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_cli.py
	$(BIN)/python benchmarks/bench_briefing.py

# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --no-browser --notebook-dir=notebooks $(ROOT_FLAG)

clean-venv:
	rm -rf $(VENV)
