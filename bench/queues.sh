#!/usr/bin/env bash
# Remote execution benchmark (issue 14): on a throw-away RabbitMQ started here (and stopped on exit), the time from
# submit to start on an idle worker, and 500 trivial custom runs through 2 in-process workers against the same runs
# executed locally in a loop (target: queue overhead < 10 %). Prints numbers; nothing here is a pass/fail gate.
source "$(dirname "$0")/common.sh"
source bench/rabbitmq-server.sh
dotnet build bench/Lamina.Bench -c Release -nologo -v quiet >/dev/null
rmq_start
bench queues --broker "$RMQ_URI" --work "$data/queues" "$@" | tee "$data/queues.jsonl"
