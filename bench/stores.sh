#!/usr/bin/env bash
# The team stores benchmark (issue 13) in one script: PostgreSQL tracking (metric logging through Lamina against raw
# batched Npgsql inserts; listing 10,000 runs beside SQLite), then the S3 production store (publishing and fetching a
# 100 MB model against a folder store). Each part starts its own throw-away server and prints its ratios.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
echo "== PostgreSQL tracking store"
"$here/stores-postgres.sh"
echo
echo "== S3 production store"
"$here/stores-s3.sh" "$@"
