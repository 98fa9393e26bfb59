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

## The fidelity suite compares calsyncd's copies with an expander that shares no code with it,
## recurring-ical-events, in a venv of its own (it pins python-dateutil below 3; calsyncd runs on
## the current dateutil).
EXPANDER       := .venv-expander
EXPANDER_STAMP := $(EXPANDER)/.installed-stamp

$(EXPANDER_STAMP):
	test -x $(EXPANDER)/bin/python || $(PYTHON) -m venv $(EXPANDER)
	$(EXPANDER)/bin/python -m pip install --quiet --disable-pip-version-check 'recurring-ical-events==3.8.2'
	touch $(EXPANDER_STAMP)

## Cyrus IMAP (Debian packages cyrus-imapd + cyrus-caldav) is the third real CalDAV server of
## tests/caldav and the conformance suite; the tests start their own, never the system's.
## Installed once when missing, as root (CI starts from a fresh machine; elsewhere the Cyrus
## tests skip saying so). The packages' scripts would start system services (cyrus-imapd,
## exim4): unless a policy-rc.d exists, one that refuses every start is put in place for the
## install and removed after, and the cyrus-imapd unit is left disabled.
CYRUS_PACKAGES := cyrus-imapd cyrus-caldav
.PHONY: cyrus
test: cyrus
cyrus:
	@missing=; for p in $(CYRUS_PACKAGES); do \
	  [ "$$(dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null)" = installed ] || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "make: Cyrus tests will skip; as root: apt-get install$$missing"; exit 0; fi; \
	policy=/usr/sbin/policy-rc.d; added=; \
	if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' > $$policy; chmod 755 $$policy; added=1; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	install="apt-get install -y -q --no-install-recommends$$missing"; \
	$$install >/dev/null || { apt-get update -q >/dev/null && $$install >/dev/null; }; status=$$?; \
	[ -z "$$added" ] || rm -f $$policy; \
	systemctl disable cyrus-imapd.service >/dev/null 2>&1 || true; \
	exit $$status

## Tests run in two processes (pytest-xdist): most of them wait on servers and subprocesses,
## so two workers take about 60 % of the time of one, also on two cores.
PYTEST_WORKERS ?= 2

test: lint $(EXPANDER_STAMP)
	$(BIN)/calsyncd --config $(CONFIG) check
	$(BIN)/pytest -q -n $(PYTEST_WORKERS)

## `make bench`: the planner benchmark and the side-by-side run against vdirsyncer 0.21
## (bench/caldav), which gets a venv of its own; matplotlib comes with the `bench` extra.
## A quick run (about a minute): make bench BENCH_ARGS="compare --sizes 1000 --reps 1 --copy-events 200"
BENCH_VDIRSYNCER := .venv-bench-vdirsyncer
BENCH_STAMP      := $(VENV)/.bench-stamp
BENCH_ARGS       ?=

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $(BENCH_STAMP)

$(BENCH_VDIRSYNCER)/bin/vdirsyncer:
	test -x $(BENCH_VDIRSYNCER)/bin/python || $(PYTHON) -m venv $(BENCH_VDIRSYNCER)
	$(BENCH_VDIRSYNCER)/bin/python -m pip install --quiet --disable-pip-version-check 'vdirsyncer==0.21.0'

bench: $(BENCH_STAMP) $(BENCH_VDIRSYNCER)/bin/vdirsyncer
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VDIRSYNCER) $(EXPANDER) var state .mypy_cache .ruff_cache .pytest_cache .hypothesis
