# Sourced by bench scripts that need RabbitMQ: rmq_start starts a throw-away broker (Debian's rabbitmq-server, its own
# node name, data, logs and epmd port in a temporary folder, a free 127.0.0.1 port) and sets RMQ_URI; it is stopped and
# removed when the script exits. Like tests/Shared/RabbitMqServer.cs.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rmq_start() {
  if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    echo "error: RabbitMQ is not installed: run scripts/ensure-native.sh" >&2; exit 1
  fi
  RMQ_DIR=$(mktemp -d /tmp/lamina-bench-rmq-XXXXXX)
  RMQ_PORT=$(free_port)
  RMQ_NODE="lamina-bench-$$@localhost"
  RMQ_EPMD_PORT=$(free_port)
  # The broker's own environment only: HOME holds its Erlang cookie, and must stay the user's for dotnet.
  RMQ_ENV=(HOME="$RMQ_DIR" RABBITMQ_NODENAME="$RMQ_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$RMQ_PORT"
    RABBITMQ_DIST_PORT="$(free_port)" ERL_EPMD_PORT="$RMQ_EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1
    RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia" RABBITMQ_LOG_BASE="$RMQ_DIR/log" RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
    RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins" RABBITMQ_PID_FILE="$RMQ_DIR/pid")
  printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$RMQ_PORT" > "$RMQ_DIR/rabbitmq.conf"
  echo "[]." > "$RMQ_DIR/enabled_plugins"
  trap rmq_stop EXIT
  env "${RMQ_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server > "$RMQ_DIR/server.out" 2>&1 &
  RMQ_PID=$!
  for _ in $(seq 1 120); do
    env "${RMQ_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RMQ_NODE" -q await_startup >/dev/null 2>&1 && break
    sleep 0.5
  done
  RMQ_URI="amqp://guest:guest@127.0.0.1:$RMQ_PORT/"
}
rmq_stop() {
  env "${RMQ_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RMQ_NODE" -q stop >/dev/null 2>&1 || kill "$RMQ_PID" 2>/dev/null || true
  pkill -f "epmd.*-port $RMQ_EPMD_PORT" 2>/dev/null || true
  rm -rf "$RMQ_DIR"
}
