#!/usr/bin/env bash
# Peak memory of the static binaries serving the demo desktop to 8 MJPEG
# clients for 30 s: VmHWM (peak resident set) of the process from
# /proc/PID/status, read just before it is stopped. Under qemu-user the
# process is qemu itself, so its figure holds qemu's own memory (translated
# code cache, the emulator's heap) too; the x86_64 binary is measured both
# natively and under qemu-x86_64-static in the same run so that share can be
# told apart. Writes a table to stdout (and to $1 when given).
#   cross/rss.sh [OUT.md]      (SECONDS_PER_RUN=30 CLIENTS=8 by default)
# Run cross/build.sh first (make rss does both).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${SECONDS_PER_RUN:-30}
clients=${CLIENTS:-8}
dist=${VNCMON_STATIC_TARGET_DIR:-target/static}/dist
runs=(
  "x86_64 native|$dist/vncmon-x86_64-unknown-linux-gnu|"
  "x86_64 under qemu-x86_64-static|$dist/vncmon-x86_64-unknown-linux-gnu|qemu-x86_64-static"
  "aarch64 under qemu-aarch64-static|$dist/vncmon-aarch64-unknown-linux-gnu|qemu-aarch64-static"
  "armv7 under qemu-arm-static|$dist/vncmon-armv7-unknown-linux-gnueabihf|qemu-arm-static"
)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vncmon-rss.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

kib() { awk '/^'"$1"':/ {print $2}' "/proc/$2/status"; }

# Resident KiB of the guest's own mappings in a qemu-user process: the guest
# program's memory without qemu's. qemu maps guest address A at guest_base + A;
# guest_base is where the binary's first LOAD segment landed, less its address.
# A 32-bit guest lives in the 4 GiB above guest_base; a 64-bit guest, mapped
# 1:1, below qemu's own heap and libraries (0x500000000000 on x86_64 hosts).
guest_kib() {
  local pid=$1 bin=$2 vaddr start lo hi sum=0 a kb
  vaddr=$(readelf -lW "$bin" | awk '$1 == "LOAD" {print $3; exit}')
  start=$(awk -v f="$(realpath "$bin")" '$6 == f {split($1, r, "-"); print r[1]; exit}' "/proc/$pid/maps")
  [[ -n $vaddr && -n $start ]] || { echo "?"; return; }
  lo=$(( 16#$start - (vaddr & ~0xfff) ))
  if readelf -hW "$bin" | grep -q 'Class:.*ELF32'; then hi=$(( lo + (1 << 32) )); else hi=$(( 0x500000000000 )); fi
  while read -r a kb; do
    (( 16#$a >= lo && 16#$a < hi )) && sum=$(( sum + kb ))
  done < <(awk '/^[0-9a-f]+-[0-9a-f]+ / {split($1, r, "-"); a = r[1]} /^Rss:/ {print a, $2}' "/proc/$pid/smaps")
  echo "$sum"
}

mib() { [[ $1 == "?" ]] && { echo "?"; return; }; echo "$(($1 / 1024)).$((($1 % 1024) * 10 / 1024)) MiB"; }

rows=()
for run in "${runs[@]}"; do
  IFS='|' read -r name bin runner <<<"$run"
  [[ -x $bin ]] || { echo "cross/rss.sh: $bin missing: run cross/build.sh" >&2; exit 1; }
  cmd=("$bin" --demo --listen 127.0.0.1:0 --log-level warn)
  [[ -n $runner ]] && cmd=("$runner" "${cmd[@]}")
  "${cmd[@]}" >"$tmp/out" 2>"$tmp/err" &
  server=$!
  pids=("$server")
  addr=
  for _ in $(seq 1 300); do
    addr=$(sed -n 's|^vncmon: serving http://\(.*\)/$|\1|p' "$tmp/out")
    [[ -n $addr ]] && break
    sleep 0.1
  done
  [[ -n $addr ]] || { echo "cross/rss.sh: $name never served:"; cat "$tmp/err"; exit 1; } >&2
  idle=$(kib VmRSS "$server")
  client_pids=()
  for i in $(seq 1 "$clients"); do
    curl -s -N --max-time "$secs" -o /dev/null -w '%{size_download}\n' \
      "http://$addr/video_feed" >"$tmp/client.$i" 2>/dev/null &
    client_pids+=($!)
    pids+=($!)
  done
  sleep "$secs"
  peak=$(kib VmHWM "$server")
  guest="—"
  [[ $runner == qemu-a* ]] && guest=$(mib "$(guest_kib "$server" "$bin")")
  wait "${client_pids[@]}" 2>/dev/null || true
  bytes=0
  for i in $(seq 1 "$clients"); do bytes=$((bytes + $(cat "$tmp/client.$i" 2>/dev/null || echo 0))); done
  kill -TERM "$server"
  wait "$server" || { echo "cross/rss.sh: $name did not exit 0 on SIGTERM" >&2; exit 1; }
  pids=()
  rate=$((bytes / clients / secs / 1024))
  rows+=("| $name | $(mib "$idle") | $(mib "$peak") | $guest | $rate KiB/s |")
  echo "cross/rss.sh: $name: idle ${idle} KiB, peak ${peak} KiB, guest $guest, $rate KiB/s per client" >&2
done

{
  echo "Demo desktop (800×480, 30 fps cap), $clients MJPEG clients for $secs s; $(date -u +%Y-%m-%d)."
  echo
  echo "| binary | RSS after start | peak RSS (VmHWM) | of it the ARM guest's own, at the end | received per client |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "${1:-/dev/null}"
