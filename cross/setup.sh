#!/usr/bin/env bash
# Installs what the static ARM builds and their smoke tests need, from Debian's
# registry alone, when something is missing: Debian's rustc (rustc-web) with the
# arm64 and armhf standard libraries (multiarch), the cross C compilers (linkers
# and static glibc), and qemu-user-static to run the results.
#   cross/setup.sh          install what is missing (needs root or sudo)
#   cross/setup.sh --check  only say what is missing; exit 1 if anything is
set -euo pipefail

# file that must exist → Debian package that provides it
needs=(
  "/usr/bin/rustc:rustc-web"
  "/usr/lib/rustlib/aarch64-unknown-linux-gnu/lib:libstd-rust-web-dev:arm64"
  "/usr/lib/rustlib/armv7-unknown-linux-gnueabihf/lib:libstd-rust-web-dev:armhf"
  "/usr/bin/aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu"
  "/usr/bin/arm-linux-gnueabihf-gcc:gcc-arm-linux-gnueabihf"
  "/usr/aarch64-linux-gnu/lib/libc.a:libc6-dev-arm64-cross"
  "/usr/arm-linux-gnueabihf/lib/libc.a:libc6-dev-armhf-cross"
  "/usr/bin/qemu-aarch64-static:qemu-user-static"
  "/usr/bin/qemu-arm-static:qemu-user-static"
)

missing=()
for entry in "${needs[@]}"; do
  path=${entry%%:*} pkg=${entry#*:}
  [[ -e $path ]] && continue
  [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
done

# The host rustc and the ARM standard libraries must be the very same version.
if [[ -x /usr/bin/rustc ]] && command -v dpkg-query >/dev/null 2>&1; then
  host_v=$(dpkg-query -W -f='${Version}' rustc-web 2>/dev/null || true)
  for arch in arm64 armhf; do
    v=$(dpkg-query -W -f='${Version}' "libstd-rust-web-dev:$arch" 2>/dev/null || true)
    if [[ -n $host_v && -n $v && $v != "$host_v" ]]; then
      echo "cross/setup.sh: libstd-rust-web-dev:$arch is $v but rustc-web is $host_v" >&2
      [[ " ${missing[*]} " == *" libstd-rust-web-dev:$arch "* ]] || missing+=("libstd-rust-web-dev:$arch")
    fi
  done
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ ${1:-} == --check ]]; then
  echo "cross/setup.sh: missing: ${missing[*]}" >&2
  exit 1
fi

echo "cross/setup.sh: installing: ${missing[*]}"
command -v apt-get >/dev/null 2>&1 || {
  echo "cross/setup.sh: apt-get not found; install by hand: ${missing[*]}" >&2
  exit 1
}
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "cross/setup.sh: not root and no sudo: install ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
foreign=$(dpkg --print-foreign-architectures)
for arch in arm64 armhf; do
  grep -qx "$arch" <<<"$foreign" || "${sudo[@]}" dpkg --add-architecture "$arch"
done
"${sudo[@]}" apt-get update
# rustc-web and its ARM std come from the same source upload: name one version
# for all three so apt cannot pick mismatched ones from different suites.
v=$(apt-cache policy rustc-web | awk '/Candidate:/ {print $2}')
args=()
for pkg in "${missing[@]}"; do
  case $pkg in
    rustc-web|libstd-rust-web-dev:*) args+=("$pkg=$v") ;;
    *) args+=("$pkg") ;;
  esac
done
# The host rustc too, when only an std is missing, so all three match.
[[ " ${args[*]} " == *" rustc-web="* ]] || args+=("rustc-web=$v")
"${sudo[@]}" apt-get install -y --no-install-recommends "${args[@]}"
