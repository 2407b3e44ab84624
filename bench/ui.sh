#!/usr/bin/env bash
# The web UI's reads (issue 17): 10,000 runs with 1,000 points of loss and of accuracy each (and 10 of val_auc), made
# once through the store's own API into bench/.data/ui.db (reused by later runs), then the runs table's first page
# (50 rows sorted by loss's minimum, 3 parameter and 3 metric columns) and a 20-run comparison's series (2 metrics,
# downsampled to 500 points) timed against hand-written SQL of the same data in the same process (target: each < 1 s).
# --postgres does the same on a throw-away PostgreSQL started here; --runs N and --points M scale the store.
# Prints numbers; nothing here is a pass/fail gate.
source "$(dirname "$0")/common.sh"
runs=10000 points=1000 postgres=
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) postgres=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    --points) points=$2; shift 2 ;;
    *) echo "usage: bench/ui.sh [--postgres] [--runs N] [--points M]" >&2; exit 2 ;;
  esac
done
dotnet build bench/Lamina.Bench -c Release -nologo -v quiet >/dev/null
db="$data/ui-$runs-$points.db"
args=(--sqlite "$db")
if [ -n "$postgres" ]; then
  source bench/pg-server.sh
  pg_start
  args+=(--postgres "$PG_URI")
fi
bench ui "${args[@]}" --runs "$runs" --points "$points" | tee "$data/ui.jsonl"
