# OtaVerify: the two set-up commands are `make demo` and `make test`; each installs what it
# needs (Debian 12 packages, as root or via sudo) and builds first.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build test unit-test integration-test credentials-soak demo clean

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

# Five minutes of steady calls while 60 s STS credentials rotate (not part of `make test`).
credentials-soak: build
	OTAVERIFY_SOAK_SECONDS=300 OTAVERIFY_SOAK_STS_LIFETIME_SECONDS=60 \
	  $(BUILD_DIR)/tests/integration_credentials_test \
	  --gtest_filter='*RotatingStsCredentialsNeverReachCallersExpired'

demo: build
	bash scripts/demo.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) .demo
