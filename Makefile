.PHONY: build test demo lint bench aarch64 armv7 static cross-setup rss

build:
	cargo build --release

test:
	./scripts/test.sh

demo:
	cargo run --release -- --demo

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

# Encoder, decoders, then the serving cost of the real binary (about 2 minutes).
bench:
	cargo bench --bench encode --bench decode --bench serve

# Stripped, fully static binaries in target/static/dist/ (Debian's rustc-web,
# cross gcc; cross/setup.sh installs them when missing).
cross-setup:
	./cross/setup.sh

aarch64: cross-setup
	./cross/build.sh aarch64

armv7: cross-setup
	./cross/build.sh armv7

static: cross-setup
	./cross/build.sh x86_64

# Peak RSS of the static aarch64 binary under qemu and of the x86_64 one,
# demo desktop + 8 stream clients for 30 s each (BENCHMARKS.md).
rss: cross-setup
	./cross/rss.sh
