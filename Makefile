# recsys-sidecar: `make run` and `make test` do all set-up on a fresh Debian 12 root machine.
SHELL := /bin/bash
.DEFAULT_GOAL := run

APT_PACKAGES := libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libopenblas-dev pkg-config libssl-dev
CONFIG ?= release
BIN = $(shell swift build -c $(CONFIG) --show-bin-path)
PLUGINS_DIR := .build/plugins
VENV := .venv
PYTHON := $(VENV)/bin/python
TOOLS_VENV := .venv-tools
LISTEN ?= 127.0.0.1:50051

.PHONY: run test build deps venv unit-test e2e-test check-protos protos fixtures demo-store clean bench-swaps

run: build
	$(BIN)/recsys-sidecar --listen $(LISTEN) --store demo/store --plugins $(PLUGINS_DIR) --default-model mlp

test: build venv check-protos unit-test e2e-test

# Debian packages, installed only when missing.
deps:
	@missing=$$(for package in $(APT_PACKAGES); do dpkg -s $$package >/dev/null 2>&1 || echo $$package; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The sidecar, and every plugin copied into the plugins directory it loads from.
build: deps
	swift build -c $(CONFIG)
	@mkdir -p -m 755 $(PLUGINS_DIR)
	@chmod 755 $(PLUGINS_DIR)
	@for library in $(BIN)/librecsys-*.so; do install -m 755 $$library $(PLUGINS_DIR)/; done

# The Python test client (grpcio from PyPI).
venv: $(VENV)/.ready
$(VENV)/.ready: Tests/e2e/requirements.txt
	@python3 -m venv $(VENV) 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(PYTHON) -m pip install -q --disable-pip-version-check -r Tests/e2e/requirements.txt
	@touch $@

unit-test: build
	RECSYS_PLUGINS_DIR=$(abspath $(PLUGINS_DIR)) swift test -c $(CONFIG)

e2e-test: build venv
	RECSYS_SIDECAR=$(BIN)/recsys-sidecar RECSYS_PLUGINS_DIR=$(abspath $(PLUGINS_DIR)) $(PYTHON) -m pytest -q Tests/e2e

# The committed generated C++ must match protos/.
check-protos: deps
	tools/gen_protos.sh --check

protos: deps
	tools/gen_protos.sh

# PyTorch-side tools (not needed by run or test): golden fixtures and the demo store.
$(TOOLS_VENV)/.ready: tools/requirements.txt
	python3 -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install -q --disable-pip-version-check -r tools/requirements.txt
	@touch $@

fixtures: $(TOOLS_VENV)/.ready
	$(TOOLS_VENV)/bin/python tools/make_fixtures.py

demo-store: $(TOOLS_VENV)/.ready
	$(TOOLS_VENV)/bin/python tools/make_demo_store.py

clean:
	rm -rf .build $(VENV)

# Latency during 20 model swaps vs. without, and memory before/after (issue 6's benchmark).
bench-swaps: build venv
	$(PYTHON) bench/swap_storm.py --binary $(BIN)/recsys-sidecar --plugins $(PLUGINS_DIR)
