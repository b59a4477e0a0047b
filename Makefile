# TokenginX: `make run` runs the server on its embedded default config,
# `make test` installs what the tests need and runs every test.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run build release test unit deps lint bench fuzz clean

run: release
	./scripts/memlock.sh ./target/release/tokenginx

build:
	$(CARGO) build

release:
	$(CARGO) build --release

deps:
	./scripts/install-test-deps.sh

test: deps
	$(CARGO) test --workspace --all-targets

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	./scripts/check-deps.sh

# Side-by-side TokenginX vs redis-server benchmark, writes bench/RESULTS.md.
# QUICK=1 make bench for a short trial run. Never part of `make test`.
bench:
	./scripts/bench.sh

clean:
	$(CARGO) clean
