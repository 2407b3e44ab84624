# Sourced by bench scripts that need an OCI registry: reg_start starts a throw-away Debian docker-registry (the reference
# registry, storage in a temporary folder, a free 127.0.0.1 port) and sets REG_ADDR (HOST:PORT) and REG_DIR; it is
# stopped and removed when the script exits. Like tests/Shared/RegistryServer.cs.
reg_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
reg_start() {
  if [ ! -x /usr/bin/docker-registry ]; then
    echo "error: docker-registry is not installed: run scripts/ensure-native.sh" >&2; exit 1
  fi
  REG_DIR=$(mktemp -d /tmp/lamina-bench-registry-XXXXXX)
  local port
  port=$(reg_free_port)
  REG_ADDR="127.0.0.1:$port"
  cat > "$REG_DIR/config.yml" <<YML
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $REG_DIR/data }
  delete: { enabled: true }
http: { addr: $REG_ADDR }
YML
  /usr/bin/docker-registry serve "$REG_DIR/config.yml" > "$REG_DIR/server.log" 2>&1 &
  REG_PID=$!
  trap reg_stop EXIT
  for _ in $(seq 1 100); do
    curl -fs "http://$REG_ADDR/v2/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "error: the registry did not start: $(tail -5 "$REG_DIR/server.log")" >&2; exit 1
}
reg_stop() {
  kill "$REG_PID" 2>/dev/null || true
  wait "$REG_PID" 2>/dev/null || true
  rm -rf "$REG_DIR"
}
