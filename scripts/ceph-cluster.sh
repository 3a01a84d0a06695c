#!/usr/bin/env bash
# A throw-away single-node Ceph cluster for tests: one mon, one mgr, one bluestore OSD on a sparse
# file, everything bound to one IPv4 address (127.0.0.1 unless ADDRESS is given) and kept under DIR (CEPH-RECIPE.md).
#   ceph-cluster.sh start DIR [ADDRESS] -> prints the path of DIR/ceph.conf once pool 'rbd' is ready
#     (a restart of an existing DIR keeps the address its ceph.conf has)
#   ceph-cluster.sh stop DIR    -> stops the daemons it started (by their pid files in DIR)
set -euo pipefail
action=$1
dir=$(realpath -m "$2")
conf=$dir/ceph.conf
address=${3:-127.0.0.1}

stop() {
  for daemon in osd.0 mgr.x mon.a; do
    pidfile=$dir/run/$daemon.pid
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
  exit 0
fi

mkdir -p "$dir"/{run,log,mon/ceph-a,mgr/ceph-x,osd/ceph-0}
if [ ! -f "$conf" ]; then
  fsid=$(cat /proc/sys/kernel/random/uuid)
  # Ports of our own in 20000-29999, so a real Ceph on this host is never touched.
  port=$((20000 + RANDOM % 9000))
  cat > "$conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:$address:$port,v1:$address:$((port + 1))]
public addr = $address
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $dir/\$cluster.\$name.keyring
run dir = $dir/run
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
[mon]
mon data = $dir/mon/\$cluster-\$id
[mgr]
mgr data = $dir/mgr/\$cluster-\$id
[osd]
osd data = $dir/osd/\$cluster-\$id
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 10737418240
bluestore fsck on mkfs = false
bluestore fsck on mount = false
osd memory target = 536870912
[client]
admin socket =
CONF
  ceph-authtool --create-keyring "$dir/ceph.mon.a.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$dir/ceph.client.admin.keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$dir/ceph.mon.a.keyring" --import-keyring "$dir/ceph.client.admin.keyring" >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:$address:$port,v1:$address:$((port + 1))]" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/ceph.mon.a.keyring"
  fresh=1
else
  fresh=0
fi

ceph-mon -c "$conf" -i a
cephc() { timeout 30 ceph -c "$conf" "$@"; }
if [ "$fresh" = 1 ]; then
  cephc auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' -o "$dir/ceph.mgr.x.keyring"
fi
ceph-mgr -c "$conf" -i x
if [ "$fresh" = 1 ]; then
  uuid=$(cat /proc/sys/kernel/random/uuid)
  secret=$(ceph-authtool --gen-print-key)
  echo "{\"cephx_secret\": \"$secret\"}" > "$dir/osd-secret.json"
  id=$(cephc osd new "$uuid" -i "$dir/osd-secret.json")
  ceph-authtool --create-keyring "$dir/ceph.osd.$id.keyring" --name "osd.$id" --add-key "$secret" >/dev/null
  ceph-osd -c "$conf" -i "$id" --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
fi
ceph-osd -c "$conf" -i 0
for _ in $(seq 1 300); do
  if cephc osd stat --format json 2>/dev/null | grep -q '"num_up_osds":1'; then break; fi
  sleep 0.2
done
if [ "$fresh" = 1 ]; then
  cephc osd pool create rbd 8 8 >/dev/null
  timeout 60 rbd -c "$conf" pool init rbd
  cephc osd set-require-min-compat-client mimic >/dev/null
fi
echo "$conf"
