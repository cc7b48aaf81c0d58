.PHONY: build test demo lint bench

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
