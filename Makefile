# calsyncd — the two commands a new machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CONFIG := config/calsyncd.yaml

.PHONY: run test lint check bench demo-data clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## The example calendars are copied once into var/ (git-ignored), so syncing never edits
## the tracked examples.
demo-data:
	@mkdir -p var/calendars var/public
	@for cal in examples/calendars/*/; do \
	  name=$$(basename $$cal); \
	  [ -d var/calendars/$$name ] || cp -R $$cal var/calendars/$$name; \
	done

run: $(STAMP) demo-data
	$(BIN)/calsyncd --config $(CONFIG) check
	$(BIN)/calsyncd --config $(CONFIG) run

lint: $(STAMP)
	$(BIN)/ruff check calsyncd tests bench
	$(BIN)/ruff format --check calsyncd tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/calsyncd --config $(CONFIG) check
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var state .mypy_cache .ruff_cache .pytest_cache .hypothesis
