# TokenginX: `make run` runs the server on its embedded default config,
# `make test` installs what the tests need and runs every test.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run build release test deps lint bench fuzz clean

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

# Fuzz the RESP request parser, the WAL record reader and the record codec for FUZZ_SECONDS
# each (default 600). cargo fuzz
# needs compiler flags that stable rustc only takes with RUSTC_BOOTSTRAP=1.
FUZZ_SECONDS ?= 600
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd proto && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run resp_request -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096
	cd persist && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run wal_records -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096
	cd shard && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run codec_records -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096

clean:
	$(CARGO) clean
