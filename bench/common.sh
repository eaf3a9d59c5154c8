# Shared helpers for the benchmark scripts (sourced, not run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench/out"
MEDIA_DIR="$OUT/media"
MEDIA="$MEDIA_DIR/bench.mp4"
mkdir -p "$MEDIA_DIR"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# A ~60 MB H.264/AAC mp4, generated once and reused.
make_media() {
  if [ ! -s "$MEDIA" ]; then
    echo "generating $MEDIA (60 s of 720p test pattern at 8 Mb/s)..." >&2
    ffmpeg -v error -y -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440 \
      -t 60 -c:v libx264 -preset ultrafast -b:v 8M -maxrate 8M -bufsize 16M \
      -c:a aac -movflags +faststart "$MEDIA"
  fi
  cat "$MEDIA" >/dev/null  # warm the page cache for both servers alike
}

# REELAY_BIN=<binary> runs that binary instead (an older build, to compare on one machine).
build_reelay() {
  if [ -n "${REELAY_BIN:-}" ]; then
    REELAY="$REELAY_BIN"
    return
  fi
  (cd "$ROOT" && cargo build --release --locked -q)
  REELAY="$ROOT/target/release/reelay"
}

# Starts reelay serving $MEDIA_DIR as bucket "media"; sets REELAY_PID and REELAY_URL.
# REELAY_NAME (default reelay) names its log and data folder, so two can run side by side.
start_reelay() {
  local name="${REELAY_NAME:-reelay}"
  local log="$OUT/$name.out"
  rm -f "$log"
  "$REELAY" serve "$MEDIA_DIR" --listen 127.0.0.1:0 --data "$OUT/$name-data" "$@" >"$log" 2>"$OUT/$name.err" &
  REELAY_PID=$!
  for _ in $(seq 1 200); do
    if grep -q '^listening on ' "$log" 2>/dev/null; then break; fi
    sleep 0.05
  done
  REELAY_URL="$(sed -n 's/^listening on //p' "$log")/media/media/bench.mp4"
  [ -n "$REELAY_URL" ] || { echo "reelay did not start" >&2; cat "$OUT/$name.err" >&2; exit 1; }
}

# Starts nginx (Debian package, unprivileged) on a free port; sets NGINX_URL.
# Starts nginx (Debian package, unprivileged) on a free port; sets NGINX_URL. Optional
# arguments: an instance name (its files under $OUT/NAME) and sendfile on|off.
start_nginx() {
  local name="${1:-nginx}" sendfile="${2:-on}" port prefix
  prefix="$OUT/$name"
  port=$(free_port)
  mkdir -p "$prefix"
  cat >"$prefix/nginx.conf" <<CONF
worker_processes auto;
daemon on;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 8192; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile $sendfile;
  tcp_nopush off;   # on: 40 ms delayed-ACK stalls on small responses over loopback
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $prefix/client_body;
  proxy_temp_path $prefix/proxy;
  fastcgi_temp_path $prefix/fastcgi;
  uwsgi_temp_path $prefix/uwsgi;
  scgi_temp_path $prefix/scgi;
  server {
    listen 127.0.0.1:$port;
    root $MEDIA_DIR;
  }
}
CONF
  nginx -c "$prefix/nginx.conf" -p "$prefix"
  STARTED_NGINX+=("$prefix")
  NGINX_URL="http://127.0.0.1:$port/bench.mp4"
}

# Starts Caddy (Debian package: file_server, no access log, no admin endpoint) on a free
# port; sets CADDY_URL and CADDY_PID.
start_caddy() {
  local port dir="$OUT/caddy"
  port=$(free_port)
  mkdir -p "$dir"
  cat >"$dir/Caddyfile" <<CONF
{
  admin off
  auto_https off
}
http://127.0.0.1:$port {
  root * $MEDIA_DIR
  file_server
}
CONF
  HOME="$dir" XDG_DATA_HOME="$dir" XDG_CONFIG_HOME="$dir" \
    caddy run --config "$dir/Caddyfile" --adapter caddyfile >"$dir/out.log" 2>&1 &
  CADDY_PID=$!
  CADDY_URL="http://127.0.0.1:$port/bench.mp4"
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null -r 0-0 "$CADDY_URL" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "caddy did not start" >&2; cat "$dir/out.log" >&2; exit 1
}

STARTED_NGINX=()
stop_servers() {
  [ -n "${REELAY_PID:-}" ] && kill "$REELAY_PID" 2>/dev/null && wait "$REELAY_PID" 2>/dev/null || true
  [ -n "${CADDY_PID:-}" ] && kill "$CADDY_PID" 2>/dev/null && wait "$CADDY_PID" 2>/dev/null || true
  local p
  for p in "${STARTED_NGINX[@]}" "$OUT/nginx"; do
    [ -f "$p/nginx.pid" ] && nginx -c "$p/nginx.conf" -p "$p" -s stop 2>/dev/null || true
  done
}

# nginx as an origin for $MEDIA_DIR (ORIGIN_PORT) and, in front of it, nginx proxy_cache with
# 1 MiB slices like reelay's chunks (CACHE_PORT); its files under $PX. stop_nginx_cache stops it.
start_nginx_cache() {
  PX="$OUT/nginx-cache"
  rm -rf "$PX" && mkdir -p "$PX/cache"
  ORIGIN_PORT=$(free_port)
  CACHE_PORT=$(free_port)
  cat >"$PX/nginx.conf" <<CONF
worker_processes auto;
daemon on;
pid $PX/nginx.pid;
error_log $PX/error.log warn;
events { worker_connections 8192; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $PX/cb;
  proxy_temp_path $PX/px;
  fastcgi_temp_path $PX/fc;
  uwsgi_temp_path $PX/uw;
  scgi_temp_path $PX/sc;
  proxy_cache_path $PX/cache levels=1:2 keys_zone=media:16m max_size=2g inactive=1h use_temp_path=off;
  upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 32; }
  server {                       # the origin
    listen 127.0.0.1:$ORIGIN_PORT;
    root $MEDIA_DIR;
  }
  server {                       # the caching proxy: 1 MiB slices, like reelay's chunks
    listen 127.0.0.1:$CACHE_PORT;
    location / {
      slice 1m;
      proxy_cache media;
      proxy_cache_key \$uri\$is_args\$args\$slice_range;
      proxy_set_header Range \$slice_range;
      proxy_cache_valid 200 206 1h;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://origin;
    }
  }
}
CONF
  nginx -c "$PX/nginx.conf" -p "$PX"
}

stop_nginx_cache() {
  nginx -c "$PX/nginx.conf" -p "$PX" -s stop 2>/dev/null || true
}

# Starts s3s-fs (no authentication) over the folder $1, logging to $2; sets S3_PID and S3_URL.
start_s3s() {
  RUST_LOG=info NO_COLOR=1 s3s-fs --host 127.0.0.1 --port 0 "$1" >"$2" 2>&1 &
  S3_PID=$!
  for _ in $(seq 1 200); do grep -q "server is running at" "$2" && break; sleep 0.05; done
  S3_URL=$(sed -n 's/.*server is running at \(http[^ ]*\).*/\1/p' "$2" | head -n1)
  [ -n "$S3_URL" ] || { echo "s3s-fs did not start" >&2; cat "$2" >&2; exit 1; }
}
