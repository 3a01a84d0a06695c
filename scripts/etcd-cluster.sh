#!/usr/bin/env bash
# A throw-away 3-member etcd cluster on loopback ports for benchmarks and manual tries (CLUSTER-NOTES.md), kept under
# DIR; the tests start their own from the test fixture.
#   etcd-cluster.sh start DIR [BASE_PORT] -> prints the client URLs, comma-separated, once the cluster is healthy
#     (members use BASE_PORT.. BASE_PORT+5, default 23790: client then peer port for each member)
#   etcd-cluster.sh stop DIR               -> stops the members it started (by their pid files in DIR) and removes DIR
set -euo pipefail
action=$1
dir=$(realpath -m "$2")
base=${3:-23790}

stop() {
  for pidfile in "$dir"/m*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

if [ "$action" = stop ]; then
  stop
  rm -rf "$dir"
  exit 0
fi

mkdir -p "$dir"
cluster="" clients=""
for i in 1 2 3; do
  cluster+="${cluster:+,}m$i=http://127.0.0.1:$((base + 2 * i - 1))"
  clients+="${clients:+,}http://127.0.0.1:$((base + 2 * i - 2))"
done
for i in 1 2 3; do
  client=http://127.0.0.1:$((base + 2 * i - 2)) peer=http://127.0.0.1:$((base + 2 * i - 1))
  setsid etcd --name "m$i" --data-dir "$dir/m$i" --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" --initial-cluster "$cluster" \
    --initial-cluster-token "$(basename "$dir")" --initial-cluster-state new --logger zap --log-outputs "$dir/m$i.log" \
    </dev/null >/dev/null 2>&1 &
  echo $! > "$dir/m$i.pid"
done
for _ in $(seq 1 300); do
  if ETCDCTL_API=3 etcdctl --endpoints "$clients" --command-timeout 2s endpoint health >/dev/null 2>&1; then
    echo "$clients"
    exit 0
  fi
  sleep 0.1
done
echo "etcd-cluster.sh: the members in $dir were not healthy within 30 s; see $dir/m*.log" >&2
stop
exit 1
