# Sourced by bench scripts that need PostgreSQL: pg_start starts a throw-away server (initdb in a temporary folder, a
# free 127.0.0.1 port, password authentication over TCP; as the postgres OS user when run as root) and sets PG_URI to a
# fresh database on it; it is stopped and removed when the script exits. Like tests/Shared/PostgresServer.cs.
pg_start() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
    echo "error: PostgreSQL is not installed: run scripts/ensure-native.sh" >&2; exit 1
  fi
  PG_DIR=$(mktemp -d /tmp/lamina-bench-pg-XXXXXX)
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PG_PASSWORD="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  local as=()
  if [ "$(id -u)" -eq 0 ]; then as=(runuser -u postgres --); fi
  echo "$PG_PASSWORD" > "$PG_DIR/pwfile"
  [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$PG_DIR"
  PG_CTL=("${as[@]}" "$bin/pg_ctl")
  trap pg_stop EXIT
  (cd "$PG_DIR" && "${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U lamina --pwfile "$PG_DIR/pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C >/dev/null)
  cat >> "$PG_DIR/data/postgresql.conf" <<CONF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_DIR'
max_connections = 100
CONF
  (cd "$PG_DIR" && "${PG_CTL[@]}" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w start >/dev/null)
  (cd "$PG_DIR" && "${as[@]}" "$bin/psql" -h "$PG_DIR" -p "$PG_PORT" -U lamina -d postgres -q -c "CREATE DATABASE bench;")
  PG_URI="postgresql://lamina:$PG_PASSWORD@127.0.0.1:$PG_PORT/bench"
}

pg_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    (cd "$PG_DIR" && "${PG_CTL[@]}" -D "$PG_DIR/data" stop -m fast -w >/dev/null 2>&1) || true
    rm -rf "$PG_DIR"
  fi
}
