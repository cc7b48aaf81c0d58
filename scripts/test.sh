#!/usr/bin/env bash
# The project's test command: installs the Debian packages the integration
# tests need when a program is missing (cross/setup.sh for the static ARM
# builds), then runs every test target.
#   ./scripts/test.sh [extra cargo test args, e.g. a test name filter]
# TEST_THREADS overrides the number of parallel tests per binary.
set -euo pipefail
cd "$(dirname "$0")/.."

# program (or file) the tests run → Debian package that provides it
needs=(
  "Xtigervnc:tigervnc-standalone-server"
  "vncpasswd:tigervnc-tools"
  "Xvfb:xvfb"
  "x11vnc:x11vnc"
  "xterm:xterm"
  "xwd:x11-apps"
  "xwud:x11-apps"
  "xsetroot:x11-xserver-utils"
  "xrandr:x11-xserver-utils"
  "xdotool:xdotool"
  "/usr/share/fonts/X11/misc/fonts.dir:xfonts-base"
  "/usr/bin/chromium:chromium"
  "/usr/bin/chromedriver:chromium-driver"
  "file:file"
  "unshare:util-linux"
  "systemd-analyze:systemd"
)

missing=()
for entry in "${needs[@]}"; do
  what=${entry%%:*} pkg=${entry#*:}
  if [[ $what == /* ]]; then [[ -e $what ]] && continue
  else command -v "$what" >/dev/null 2>&1 && continue
  fi
  [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
  echo "test.sh: installing missing packages: ${missing[*]}"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: apt-get not found; install these packages by hand: ${missing[*]}" >&2
    exit 1
  fi
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "test.sh: not root and no sudo: install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update
  "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The static ARM builds and their emulator (tests/static_builds.rs): Debian's
# rustc-web with the arm64/armhf std, cross gcc, qemu-user-static.
./cross/setup.sh

command -v cargo >/dev/null 2>&1 || {
  echo "test.sh: cargo not found: install Rust with rustup (https://rustup.rs)" >&2
  exit 1
}

# Integration tests mostly wait on X and VNC servers: twice the cores, 4..8.
cores=$(nproc 2>/dev/null || echo 2)
threads=${TEST_THREADS:-$(( cores * 2 < 4 ? 4 : (cores * 2 > 8 ? 8 : cores * 2) ))}

log=$(mktemp "${TMPDIR:-/tmp}/vncmon-test.XXXXXX")
trap 'rm -f "$log"' EXIT
status=0
# Unit and integration tests; the benches are built by `cargo clippy --all-targets`
# and run by `make bench` (running them here would time them on a busy machine).
cargo test --lib --bins --tests --no-fail-fast "$@" -- --test-threads="$threads" 2>&1 | tee "$log" || status=$?

echo
echo "==== summary ===="
grep -E '^\s+Running |^test result: ' "$log" | sed -E 's/^\s+Running (.*) \(.*\)$/\1/' || true
if ((status != 0)); then
  grep -E '^    [A-Za-z0-9_:]+$' "$log" | sort -u | sed 's/^ */FAILED: /' || true
  grep -E '^error' "$log" || true
  echo "test.sh: FAILED (exit $status)"
else
  echo "test.sh: all tests passed"
fi
exit "$status"
