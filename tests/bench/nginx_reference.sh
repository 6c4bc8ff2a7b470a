#!/usr/bin/env bash
# nginx serving the echo example's benchmarked routes, as a reference point for
# scripts/bench-server --reference nginx (the issue's targets were set against servers such as
# nginx measured on this machine; measuring one in the same run shows what the harness gives a
# mature server).
#
#   nginx_reference.sh --dir DIR [--host 127.0.0.1] [--port 0]
#
# Writes its configuration and logs under DIR, prints `listening on http://HOST:PORT` and
# becomes nginx: one process (no master, no daemon), so the caller's PID is the server's.
# Port 0 picks a free port. Routes, each a constant answer from the `return` directive:
#   GET /plaintext  Hello, World!              (text/plain)
#   GET /json       {"message":"Hello, World!"} (application/json)
#   POST /post      {"id":1}                   (application/json; the body is read and dropped,
#                                              where the echo example parses it)
# Keep-alive has no request cap and a 120 s idle timeout, access logging is off.
set -euo pipefail
host=127.0.0.1
port=0
dir=""
while [ $# -gt 0 ]; do
  case $1 in
    --host) host=$2; shift ;;
    --port) port=$2; shift ;;
    --dir) dir=$2; shift ;;
    *) echo "usage: nginx_reference.sh --dir DIR [--host H] [--port N]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$dir" ] || { echo "nginx_reference.sh: --dir is required" >&2; exit 2; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "nginx_reference.sh: nginx is not installed" \
  "(apt-get install nginx-light)" >&2; exit 1; }
if [ "$port" = 0 ]; then
  # A free port, released again for nginx to bind: nothing else on this machine races for it.
  port=$(python3 -c 'import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$host")
fi
mkdir -p "$dir/logs"
cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
error_log $dir/logs/error.log error;
pid $dir/nginx.pid;
worker_rlimit_nofile 65536;
events { worker_connections 20000; multi_accept on; }
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 120s;
  # Every temporary directory under DIR, so that nginx needs no write access elsewhere.
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  client_max_body_size 1m;
  server {
    listen $host:$port backlog=4096;
    location = /plaintext { default_type text/plain; return 200 "Hello, World!"; }
    location = /json { default_type application/json; return 200 '{"message":"Hello, World!"}'; }
    location = /post { default_type application/json; return 200 '{"id":1}'; }
  }
}
EOF
echo "listening on http://$host:$port"
exec "$nginx" -c "$dir/nginx.conf" -p "$dir"
