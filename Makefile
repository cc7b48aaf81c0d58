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

bench:
	cargo bench --bench encode
