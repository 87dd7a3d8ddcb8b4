# OtaVerify: the two set-up commands are `make demo` and `make test`; each installs what it
# needs (Debian 12 packages, as root or via sudo) and builds first.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build test unit-test integration-test k8s-check credentials-soak demo clean

all: build

deps:
	bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR) -j$(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit -j$(JOBS)

integration-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration -j$(JOBS)

# Dockerfile and k8s/ manifests, offline: renders every overlay with kubectl kustomize and
# validates it, rejects the broken fixtures, checks the runtime package list (ctest label k8s,
# so `make test` runs it too).
k8s-check: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L k8s -j$(JOBS)

# Five minutes of steady calls while 60 s STS credentials rotate (not part of `make test`).
credentials-soak: build
	OTAVERIFY_SOAK_SECONDS=300 OTAVERIFY_SOAK_STS_LIFETIME_SECONDS=60 \
	  $(BUILD_DIR)/tests/integration_credentials_test \
	  --gtest_filter='*RotatingStsCredentialsNeverReachCallersExpired'

# libFuzzer targets (tests/fuzz/README.md; not part of `make test`): a clang build with ASan and
# UBSan in build-fuzz/, each target run for FUZZ_SECONDS on a copy of its seed corpus.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
.PHONY: deps-fuzz fuzz

deps-fuzz:
	bash scripts/install-deps.sh --fuzz

fuzz: deps-fuzz
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD_DIR) -DOTAVERIFY_FUZZ=ON \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1
	cmake --build $(FUZZ_BUILD_DIR) -j$(JOBS) --target otaverify_fuzzers
	bash tests/fuzz/run.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Sanitizer runs (tests/sanitizers/README.md; not part of `make test`): the unit and integration
# suites built with ASan + UBSan in build-asan/ (`make sanitize`) or with TSan in build-tsan/
# (`make tsan`). Fails on a failed test or on any sanitizer report, the started gateway,
# emulator and CLI processes included.
SANITIZE_BUILD_DIR ?= build-asan
TSAN_BUILD_DIR ?= build-tsan
SANITIZE_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g"
.PHONY: sanitize tsan soak

sanitize: deps
	cmake -S . -B $(SANITIZE_BUILD_DIR) -DOTAVERIFY_SANITIZE=address $(SANITIZE_FLAGS)
	cmake --build $(SANITIZE_BUILD_DIR) -j$(JOBS)
	bash tests/sanitizers/run.sh $(SANITIZE_BUILD_DIR) address

tsan: deps
	cmake -S . -B $(TSAN_BUILD_DIR) -DOTAVERIFY_SANITIZE=thread $(SANITIZE_FLAGS)
	cmake --build $(TSAN_BUILD_DIR) -j$(JOBS)
	bash tests/sanitizers/run.sh $(TSAN_BUILD_DIR) thread

# A bounded soak of the Release gateway (tests/soak/README.md; not part of `make test`): steady
# load with faults injected, the gateway's RSS, open fds and threads sampled every 10 s; fails
# if any of them keeps growing or the gateway dies.
SOAK_SECONDS ?= 600
soak: build
	python3 tests/soak/soak.py --build_dir $(BUILD_DIR) --seconds $(SOAK_SECONDS)

# Benchmark on loopback (tests/bench/README.md; not part of `make test`, about 5 minutes): the
# gateway end to end beside the direct HTTP path, a bare gRPC call and the official Node SDK,
# at concurrency 1, 16 and 64; prints one table of medians over the rounds (peak RSS and
# connections the largest). BENCH_SECONDS / BENCH_WARMUP per run, BENCH_ROUNDS rounds.
.PHONY: bench
bench: build
	bash tests/bench/run.sh $(BUILD_DIR)

demo: build
	bash scripts/demo.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) .demo
