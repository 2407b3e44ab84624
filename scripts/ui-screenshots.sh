#!/usr/bin/env bash
# Screenshots of the web UI's main pages for docs/ui.md: the demo's store (lamina demo, in a throw-away LAMINA_HOME)
# served by `lamina ui` on a free port, each page opened in Debian's headless chromium as a person would open it.
#
#   scripts/ui-screenshots.sh [--home DIR] [--out docs/images]
#
# --home DIR  a Lamina home that already holds the demo's runs (kept; made with `lamina demo` when missing or empty)
# --out DIR   where the PNG files go (default docs/images: ui-runs.png, ui-run.png, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
home="" out="docs/images"
while [ $# -gt 0 ]; do
  case "$1" in
    --home) home="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: scripts/ui-screenshots.sh [--home DIR] [--out DIR]" >&2; exit 2 ;;
  esac
done
command -v chromium > /dev/null || { echo "error: chromium is missing: run scripts/ensure-native.sh (as root)" >&2; exit 1; }
work="$(mktemp -d)"
ui_pid=""
# SIGTERM, not SIGINT: a background job of a script starts with SIGINT ignored.
cleanup() { [ -n "$ui_pid" ] && kill -TERM "$ui_pid" 2> /dev/null && wait "$ui_pid" 2> /dev/null; rm -rf "$work"; }
trap cleanup EXIT
[ -n "$home" ] || home="$work/home"
home="$(realpath -m "$home")"
export LAMINA_HOME="$home"
unset LAMINA_TRACKING LAMINA_ARTIFACTS LAMINA_PRODUCTION LAMINA_BROKER
mkdir -p "$out"

if [ ! -s "$home/tracking.db" ]; then
  echo "running lamina demo into $home (a few minutes)"
  # The demo's files (slides, bundle) beside the home, kept with it: the trace page checks the slides' digests.
  ./lamina demo --out "${home%/}-demo" > "$work/demo.log" 2>&1 || { cat "$work/demo.log" >&2; exit 1; }
fi

./lamina ui --port 0 > "$work/ui.log" 2>&1 &
ui_pid=$!
for _ in $(seq 1 120); do
  grep -q '^lamina ui serving ' "$work/ui.log" && break
  kill -0 "$ui_pid" 2> /dev/null || { cat "$work/ui.log" >&2; exit 1; }
  sleep 0.5
done
base="$(sed -n 's/^lamina ui serving //p' "$work/ui.log" | head -n 1)"
[ -n "$base" ] || { echo "error: lamina ui printed no address" >&2; cat "$work/ui.log" >&2; exit 1; }
echo "lamina ui at $base"

# The runs the pages show: the newest completed training run (curves, a model, a data set), the two training runs to compare.
runs_json="$(./lamina runs list --json -n 100)"
pick() { python3 -c 'import json,sys; runs=json.load(sys.stdin); sel=[r for r in runs if eval(sys.argv[1])]; print(",".join(r["id"] for r in sel[:int(sys.argv[2])]))' "$1" "$2" <<< "$runs_json"; }
training="$(pick 'r["task_type"] == "training" and r["status"] == "completed"' 2)"
run="${training%%,*}"
[ -n "$run" ] || { echo "error: the store has no completed training run" >&2; exit 1; }
dataset="$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[0]["id"] if d else "")' <<< "$(./lamina datasets list --json)")"

shot() {
  local name="$1" path="$2" height="${3:-900}"
  chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --force-device-scale-factor=1 \
    --window-size="1280,$height" --virtual-time-budget=5000 --screenshot="$out/ui-$name.png" "$base${path#/}" > /dev/null 2>&1
  echo "  $out/ui-$name.png  ($path)"
}
shot runs "/runs"
shot run "/runs/$run" 1600
shot compare "/compare?runs=$training" 1100
shot models "/models"
shot releases "/releases"
shot trace "/trace/$run" 1000
shot audit "/audit"
shot queues "/queues" 600
[ -z "$dataset" ] || shot dataset "/datasets/$dataset" 1000
