# recsys-sidecar: `make run` and `make test` do all set-up on a fresh Debian 12 root machine.
SHELL := /bin/bash
.DEFAULT_GOAL := run

APT_PACKAGES := libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libopenblas-dev pkg-config libssl-dev openssl \
  redis-server libhiredis-dev libfaiss-dev
CONFIG ?= release
BIN = $(shell swift build -c $(CONFIG) --show-bin-path)
PLUGINS_DIR := .build/plugins
VENV := .venv
PYTHON := $(VENV)/bin/python
TOOLS_VENV := .venv-tools
LISTEN ?= 127.0.0.1:50051

.PHONY: run test build deps venv unit-test e2e-test check-protos protos fixtures demo-store clean bench-swaps soak-rewrites \
  fuzz fuzz-build fuzz-smoke ope-oracle ope-check

run: build
	mkdir -p out
	$(BIN)/recsys-sidecar --listen $(LISTEN) --store demo/store --plugins $(PLUGINS_DIR) --default-model mlp \
	  --experiments demo/experiments.yaml --exposure-log out/exposures.jsonl

test: build venv check-protos unit-test fuzz-smoke e2e-test

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

# The Python test client (grpcio from PyPI) and tools/ as a package (without its torch extra).
venv: $(VENV)/.ready
$(VENV)/.ready: Tests/e2e/requirements.txt tools/pyproject.toml
	@python3 -m venv $(VENV) 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(PYTHON) -m pip install -q --disable-pip-version-check -r Tests/e2e/requirements.txt
	$(PYTHON) -m pip install -q --disable-pip-version-check -e tools
	@touch $@

# Tests build into the same products as `build` (a plain `swift test` would rebuild every
# module with other settings, and `make run` after it would rebuild them again).
unit-test: build
	swift build -c $(CONFIG) --build-tests
	RECSYS_PLUGINS_DIR=$(abspath $(PLUGINS_DIR)) swift test -c $(CONFIG) --skip-build

e2e-test: build venv
	RECSYS_SIDECAR=$(BIN)/recsys-sidecar RECSYS_PLUGINS_DIR=$(abspath $(PLUGINS_DIR)) $(PYTHON) -m pytest -q Tests/e2e

# Fuzzing (libFuzzer): `make fuzz` runs every target FUZZ_SECONDS (default 600) from the committed
# seeds; `make test` runs each FUZZ_SMOKE_SECONDS. FUZZ_TARGETS="a b" runs only those.
# The instrumented build has its own scratch folder and links with lld (gold crashes on
# libFuzzer's archive next to the `main` SwiftPM defines). See Tests/Fuzz/README.md.
FUZZ_SCRATCH := .build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_TARGETS ?=
FUZZ_BIN = $(FUZZ_SCRATCH)/release/recsys-fuzz

fuzz-build: deps
	swift build -c release --scratch-path $(FUZZ_SCRATCH) --product recsys-fuzz \
	  -Xswiftc -sanitize=fuzzer -Xswiftc -DRECSYS_LIBFUZZER -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld

fuzz: build fuzz-build
	RECSYS_PLUGINS_DIR=$(abspath $(PLUGINS_DIR)) tools/fuzz.sh $(FUZZ_BIN) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: build fuzz-build
	RECSYS_PLUGINS_DIR=$(abspath $(PLUGINS_DIR)) tools/fuzz.sh $(FUZZ_BIN) $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

# The committed generated C++ must match protos/.
check-protos: deps
	tools/gen_protos.sh --check

protos: deps
	tools/gen_protos.sh

# PyTorch-side tools (not needed by run or test): golden fixtures and the demo store.
$(TOOLS_VENV)/.ready: tools/requirements.txt tools/pyproject.toml
	python3 -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install -q --disable-pip-version-check -r tools/requirements.txt
	$(TOOLS_VENV)/bin/pip install -q --disable-pip-version-check -e "tools[torch]"
	@touch $@

fixtures: $(TOOLS_VENV)/.ready
	$(TOOLS_VENV)/bin/python tools/make_fixtures.py

demo-store: $(TOOLS_VENV)/.ready
	$(TOOLS_VENV)/bin/python tools/make_demo_store.py

# Issue 15: the off-policy estimators against Open Bandit Pipeline itself. Rewrites the golden
# fixtures Tests/Fixtures/ope/ (obp's numbers on simulated logs) and compares `recsysctl experiments
# evaluate` on the same logs with obp to 1e-9. obp imports torch, so this never runs in `make test`.
$(TOOLS_VENV)/.ready-obp: $(TOOLS_VENV)/.ready tools/requirements-ope.txt
	$(TOOLS_VENV)/bin/pip install -q --disable-pip-version-check -r tools/requirements-ope.txt
	$(TOOLS_VENV)/bin/pip install -q --disable-pip-version-check --no-deps --ignore-requires-python obp==0.5.7
	@touch $@

ope-oracle: build $(TOOLS_VENV)/.ready-obp
	$(TOOLS_VENV)/bin/python tools/ope_oracle.py --fixtures Tests/Fixtures/ope --recsysctl $(BIN)/recsysctl

# Issue 15 on the simulator with the real sidecar: in how many of 20 seeds the candidate's
# off-policy estimate (doubly robust, from the exploring dqn's logs) has a 95 % interval that
# covers the candidate's true CTR (must be >= 90 %); then epsilon 0 must report missing support.
# About 2 minutes. OPE_CHECK_ARGS passes flags to tools/ope_check.py (e.g. "--seeds 5").
OPE_CHECK_ARGS ?=
OPE_CHECK = $(PYTHON) tools/ope_check.py --sidecar $(BIN)/recsys-sidecar --recsysctl $(BIN)/recsysctl \
  --plugins $(abspath $(PLUGINS_DIR))
ope-check: build venv
	$(OPE_CHECK) $(OPE_CHECK_ARGS)
	$(OPE_CHECK) --seeds 2 --epsilon 0

clean:
	rm -rf .build $(VENV)

# Latency during 20 model swaps vs. without, and memory before/after (issue 6's benchmark).
bench-swaps: build venv
	$(PYTHON) bench/swap_storm.py --binary $(BIN)/recsys-sidecar --plugins $(PLUGINS_DIR)

# Issue 13: serving weights rewritten in place every 0.5 s under load; fails on a failed call or growth.
SOAK_SECONDS ?= 60
soak-rewrites: build venv
	$(PYTHON) bench/soak_rewrites.py --binary $(BIN)/recsys-sidecar --plugins $(PLUGINS_DIR) --seconds $(SOAK_SECONDS)

# ---------------------------------------------------------------------------------------------
# Benchmarks (issue 9): load generator and grpc++ echo floor (tools/loadgen), PyTorch and ONNX
# Runtime peers (bench/peers, from PyPI into .venv-bench), sweeps, kernels, memory
# -> docs/benchmarks.md and docs/bench-*.png. Work files go to out/bench/ (not committed).
#   make bench                              the normal build (.build, $(PLUGINS_DIR))
#   make bench BENCH_SCRATCH=.build-bench   the Swift side in its own scratch folder
#   make bench BENCH_ARGS="--seconds 5"     more time per point (see bench/run.py --help)
#   make bench BENCH_ARGS="--points mlp_A"  only those points of issue 19's shape sweep (bench/sweep.py)
BENCH_VENV := .venv-bench
BENCH_PY := $(BENCH_VENV)/bin/python
BENCH_WORK := out/bench
BENCH_TOOLS := $(BENCH_WORK)/bin
BENCH_SCRATCH ?=
BENCH_ARGS ?=
BENCH_CXX ?= $(shell command -v g++ || command -v clang++)
BENCH_CXXFLAGS := -O2 -std=c++17 -Wall -Wno-deprecated-declarations
BENCH_GENERATED := Sources/CGRPCShim/generated
BENCH_GRPC_LIBS := -lgrpc++ -lgrpc -lgpr -lprotobuf -labsl_synchronization
ifeq ($(BENCH_SCRATCH),)
BENCH_SWIFT := build
BENCH_BIN = $(BIN)
BENCH_PLUGINS := $(abspath $(PLUGINS_DIR))
else
BENCH_SWIFT := bench-swift
BENCH_BIN = $(abspath $(BENCH_SCRATCH))/$(CONFIG)
BENCH_PLUGINS := $(abspath $(BENCH_SCRATCH))/plugins
endif

.PHONY: bench bench-swift bench-venv bench-deps bench-tools bench-experiments bench-fleet bench-retrieval

# The Swift build, the PyTorch download and the C++ tools run in parallel; then prepare, measure, report.
bench:
	@start=$$(date +%s); set -e; \
	$(MAKE) --no-print-directory -j3 $(BENCH_SWIFT) bench-venv bench-tools; \
	$(BENCH_PY) bench/prepare.py --work $(BENCH_WORK); \
	$(BENCH_PY) bench/run.py --prepared $(BENCH_WORK)/prepared.json --out $(BENCH_WORK)/results.json \
	  --sidecar $(BENCH_BIN)/recsys-sidecar --plugins $(BENCH_PLUGINS) --loadgen $(BENCH_TOOLS)/loadgen \
	  --echo-server $(BENCH_TOOLS)/echo_server --kernels $(BENCH_TOOLS)/kernels $(BENCH_ARGS); \
	$(BENCH_PY) bench/report.py --results $(BENCH_WORK)/results.json --docs docs --make-seconds $$(( $$(date +%s) - start ))

# A/B experiments, exposure log and shadow scoring: their p99 cost against a sidecar without them,
# and the exposure log's accounting -> out/bench/experiments_overhead.md and .json (about 4 min).
# BENCH_EXPERIMENTS_ARGS passes flags to bench/experiments_overhead.py.
BENCH_EXPERIMENTS_ARGS ?=
bench-experiments:
	@set -e; $(MAKE) --no-print-directory -j3 $(BENCH_SWIFT) bench-venv bench-tools; \
	test -f $(BENCH_WORK)/prepared.json || $(BENCH_PY) bench/prepare.py --work $(BENCH_WORK); \
	$(BENCH_PY) bench/experiments_overhead.py --prepared $(BENCH_WORK)/prepared.json \
	  --sidecar $(BENCH_BIN)/recsys-sidecar --plugins $(BENCH_PLUGINS) --loadgen $(BENCH_TOOLS)/loadgen \
	  --out $(BENCH_WORK)/experiments_overhead.md $(BENCH_EXPERIMENTS_ARGS); \
	$(MAKE) --no-print-directory bench-fleet

# Issue 14: p99 and CPU per call with the Redis experiment state vs in-process, at 50 % load
# (a local redis-server; needs only the e2e venv and the load generator, not the bench venv).
BENCH_FLEET_ARGS ?=
bench-fleet: build venv bench-tools
	$(PYTHON) bench/fleet_overhead.py --loadgen $(BENCH_TOOLS)/loadgen --out $(BENCH_WORK)/fleet_overhead.md \
	  $(BENCH_FLEET_ARGS)

# Issue 18: whole-catalog retrieval per mode (exact, quantized, approximate) at N = 50k, 1M, 5M
# (sasrec, lstm) -> docs/retrieval.md,
# about 15 min on an idle machine (stores are kept in out/bench-retrieval and reused). The PyTorch
# eager peer runs with RETRIEVAL_TORCH_PY (default: the bench venv's python; skipped when absent).
# RETRIEVAL_ARGS passes flags to bench/retrieval/run.py (--sizes, --kinds, --queries, --note).
# Latency and QPS are measured with the C++ load generator (a Python client's own cost would exceed
# a 50k scan); the e2e venv's Python client only checks answers (recall@10).
RETRIEVAL_TORCH_PY ?= $(BENCH_VENV)/bin/python
RETRIEVAL_ARGS ?=
bench-retrieval: build venv bench-tools
	@mkdir -p out/bench-retrieval
	$(CC) -O2 -o out/bench-retrieval/read_bandwidth bench/retrieval/read_bandwidth.c -lpthread
	$(CC) -O2 -I Sources/CRecSysScan/include -o out/bench-retrieval/scan_roof bench/retrieval/scan_roof.c \
	  Sources/CRecSysScan/scan.c Sources/CRecSysScan/second_core.c -lpthread
	$(PYTHON) bench/retrieval/run.py --sidecar $(BIN)/recsys-sidecar --plugins $(abspath $(PLUGINS_DIR)) \
	  --loadgen $(BENCH_TOOLS)/loadgen \
	  --read-bandwidth out/bench-retrieval/read_bandwidth --scan-roof out/bench-retrieval/scan_roof \
	  --torch-python $(RETRIEVAL_TORCH_PY) $(RETRIEVAL_ARGS)

bench-swift: deps
	swift build -c $(CONFIG) --scratch-path $(BENCH_SCRATCH)
	@mkdir -p -m 755 $(BENCH_PLUGINS)
	@chmod 755 $(BENCH_PLUGINS)
	@for library in $(BENCH_BIN)/librecsys-*.so; do install -m 755 $$library $(BENCH_PLUGINS)/; done

bench-venv:
	@if [ ! -f $(BENCH_VENV)/.ready ] || [ bench/requirements.txt -nt $(BENCH_VENV)/.ready ] \
	  || [ tools/pyproject.toml -nt $(BENCH_VENV)/.ready ]; then \
	  python3 -m venv $(BENCH_VENV) 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && python3 -m venv $(BENCH_VENV); }; \
	  echo "installing bench/requirements.txt into $(BENCH_VENV) (torch from PyPI: several GB)"; \
	  $(BENCH_VENV)/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt && \
	  $(BENCH_VENV)/bin/pip install -q --disable-pip-version-check -e tools && touch $(BENCH_VENV)/.ready; \
	fi

# perf (Debian's linux-perf): bench/run.py profiles the sweep points above 1.5x their roofline.
bench-deps: deps
	@dpkg -s linux-perf >/dev/null 2>&1 || { echo "installing: linux-perf"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf; }

# Rebuilt only when a file they are built from is newer than the binary.
bench-tools: bench-deps
	@mkdir -p $(BENCH_TOOLS)
	@set -e; compile() { out=$$1; deps=$$2; shift 2; \
	  if [ ! -x $$out ] || [ -n "$$(find $$deps -newer $$out 2>/dev/null)" ]; then echo "c++ -> $$out"; \
	    $(BENCH_CXX) $(BENCH_CXXFLAGS) -I$(BENCH_GENERATED) "$$@" -o $$out $(BENCH_GRPC_LIBS) -lopenblas -ldl; fi; }; \
	compile $(BENCH_TOOLS)/loadgen "tools/loadgen $(BENCH_GENERATED)/recsys/v1" \
	  tools/loadgen/loadgen.cc $(BENCH_GENERATED)/recsys/v1/recommender.pb.cc; \
	compile $(BENCH_TOOLS)/echo_server "tools/loadgen $(BENCH_GENERATED)/recsys/v1" \
	  tools/loadgen/echo_server.cc $(BENCH_GENERATED)/recsys/v1/recommender.pb.cc $(BENCH_GENERATED)/recsys/v1/recommender.grpc.pb.cc; \
	compile $(BENCH_TOOLS)/kernels "bench/kernels.cc bench/retrieval/read_loop.h Sources/CRecSysPlugin/include Sources/CRecSysStatus/include" \
	  -ISources/CRecSysStatus/include bench/kernels.cc
