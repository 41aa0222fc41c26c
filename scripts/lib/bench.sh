# Shell helpers shared by scripts/bench-*: source it after setting `work` (a temp directory) and
# `pids` (an array the caller's cleanup kills).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# The two services as fully static x86_64 binaries (what the images hold).
static_build() {
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --release \
    --target x86_64-unknown-linux-gnu -p mysfits-service -p like-service
}

# Starts a Debian docker-registry on a free loopback port and stores the port in the variable
# named $1 once it listens (not `$(start_registry)`: a subshell would lose the pid to clean up).
# With an htpasswd file as $2 it asks for basic auth (as ECR does).
start_registry() {
  local port auth=""
  port=$(free_port)
  mkdir -p "$work/registry-$port"
  if [ -n "${2:-}" ]; then
    auth=$(printf 'auth:\n  htpasswd:\n    realm: ecr-stand-in\n    path: %s\n' "$2")
  fi
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n%s\n' \
    "$work/registry-$port" "$port" "$auth" >"$work/registry-$port.yml"
  docker-registry serve "$work/registry-$port.yml" >"$work/registry-$port.log" 2>&1 &
  pids+=($!)
  wait_port "$port"
  printf -v "$1" '%s' "$port"
}
