#!/usr/bin/env bash
# Builds stripped, fully static release binaries of vncmon with Debian's rustc
# (rustc-web) and cross gcc: one cargo invocation for all the targets asked for,
# in its own target directory so it never waits on the main build's lock.
#   cross/build.sh [aarch64|armv7|x86_64|TRIPLE]...   (default: all three)
# Results: target/static/dist/vncmon-TRIPLE. Environment:
#   VNCMON_STATIC_RUSTC       the rustc to use [/usr/bin/rustc]; rustup's has no ARM std here
#   VNCMON_STATIC_TARGET_DIR  cargo's target directory [target/static]
# Run cross/setup.sh first (scripts/test.sh and the Makefile do).
set -euo pipefail
cd "$(dirname "$0")/.."

triples=()
for t in "${@:-aarch64 armv7 x86_64}"; do
  for one in $t; do
    case $one in
      aarch64 | arm64) triples+=(aarch64-unknown-linux-gnu) ;;
      armv7 | armhf) triples+=(armv7-unknown-linux-gnueabihf) ;;
      x86_64 | amd64 | static) triples+=(x86_64-unknown-linux-gnu) ;;
      *-*-*) triples+=("$one") ;;
      *) echo "cross/build.sh: unknown target $one (aarch64, armv7, x86_64 or a triple)" >&2; exit 2 ;;
    esac
  done
done

rustc=${VNCMON_STATIC_RUSTC:-/usr/bin/rustc}
[[ -x $rustc ]] || { echo "cross/build.sh: $rustc not found: run cross/setup.sh" >&2; exit 1; }
dir=${VNCMON_STATIC_TARGET_DIR:-target/static}

args=()
for t in "${triples[@]}"; do args+=(--target "$t"); done
# .cargo/config.toml makes the ARM targets static; the host target gets it
# here, so ordinary host builds stay dynamic. With --target, rustflags reach
# only the target's artifacts, not build scripts or proc macros.
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static"
RUSTC=$rustc cargo build --locked --release --bin vncmon --target-dir "$dir" "${args[@]}"

mkdir -p "$dir/dist"
status=0
for t in "${triples[@]}"; do
  src=$dir/$t/release/vncmon
  out=$dir/dist/vncmon-$t
  cp "$src" "$out"
  desc=$(file -b "$out" 2>/dev/null || echo "?")
  size=$(stat -c %s "$out")
  printf '%-36s %9d bytes  %s\n' "$out" "$size" "$desc"
  # `file` calls a static-pie "static-pie linked"; both need no loader or libc on the board.
  if command -v file >/dev/null 2>&1 && ! grep -Eq 'statically linked|static-pie linked' <<<"$desc"; then
    echo "cross/build.sh: $out is not statically linked" >&2
    status=1
  fi
  if command -v file >/dev/null 2>&1 && grep -q 'not stripped' <<<"$desc"; then
    echo "cross/build.sh: $out is not stripped" >&2
    status=1
  fi
done
exit "$status"
