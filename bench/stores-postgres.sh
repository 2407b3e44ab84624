#!/usr/bin/env bash
# Tracking store benchmark (issue 13): on a throw-away PostgreSQL started here (and stopped on exit), (a) 100,000 metric
# points logged through Lamina's store in batches of 100, against raw batched Npgsql inserts of the same rows in the same
# process (ratio raw/lamina, target >= 0.5); (b) listing 10,000 runs as 'runs list --json' does, on PostgreSQL and on
# SQLite (target < 0.5 s). Prints numbers; nothing here is a pass/fail gate.
source "$(dirname "$0")/common.sh"
source bench/pg-server.sh
dotnet build bench/Lamina.Bench -c Release -nologo -v quiet >/dev/null
pg_start
results="$data/stores.jsonl"
rm -f "$data/stores-bench.db" "$data/stores-bench.db-wal" "$data/stores-bench.db-shm"
bench stores --postgres "$PG_URI" --sqlite "$data/stores-bench.db" --points 100000 --batch 100 --runs 10000 | tee "$results"
