#!/usr/bin/env bash
# Smoke test of the tools built by build.sh: start etcd and kube-apiserver on
# loopback (random high ports, everything in a temp dir), wait for /readyz,
# list the namespaces with kubectl, then stop both and remove the temp dir.
# The EXIT trap stops the processes this script started (by pid) and removes
# the temp dir even when a step fails; on failure it prints the log tails.
set -euo pipefail

TOOLS_DIR=${TOPOSUITE_TOOLS_DIR:-${HOME}/.cache/toposuite/tools}
BIN=$TOOLS_DIR/bin
for b in etcd kube-apiserver kubectl; do
	[[ -x $BIN/$b ]] || { echo "smoke.sh: $BIN/$b missing: run e2e/tools/build.sh first" >&2; exit 1; }
done
command -v openssl >/dev/null || { echo "smoke.sh: openssl missing (apt-get install -y openssl)" >&2; exit 1; }

WORK=$(mktemp -d -t toposuite-tools-smoke-XXXXXX)
PIDS=()
T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%5.1fs", b - a }'; }
log() { printf '[%s] %s\n' "$(elapsed)" "$*"; }

cleanup() {
	local rc=$? i pid
	trap - EXIT INT TERM
	# Reverse start order: kube-apiserver first, then etcd.
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[i]}
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			log "pid $pid still running 10s after SIGTERM: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	if ((rc != 0 && rc != 130 && rc != 143)); then
		for f in "$WORK"/*.log; do
			[[ -f $f ]] || continue
			echo "---- last lines of ${f##*/}" >&2
			tail -n 20 "$f" >&2
		done
	fi
	rm -rf "$WORK"
	if ((rc == 0)); then log "stopped etcd and kube-apiserver, removed $WORK: PASS"; else log "FAIL (rc=$rc), cleaned up" >&2; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port: a random unused TCP port on 127.0.0.1 in 20000-59999.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if [[ -z $(ss -Htln "sport = :$p") ]] && [[ " ${USED[*]:-} " != *" $p "* ]]; then
			USED+=("$p")
			echo "$p"
			return
		fi
	done
	echo "smoke.sh: no free port" >&2
	return 1
}
USED=()
ETCD_PORT=$(free_port); USED+=("$ETCD_PORT")
PEER_PORT=$(free_port); USED+=("$PEER_PORT")
API_PORT=$(free_port)

# etcd: single member, no fsync (test data only).
"$BIN/etcd" --name smoke --data-dir "$WORK/etcd" --unsafe-no-fsync \
	--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
	--listen-peer-urls "http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
	--initial-cluster "smoke=http://127.0.0.1:$PEER_PORT" --log-level warn >"$WORK/etcd.log" 2>&1 &
PIDS+=($!)
log "etcd $("$BIN/etcd" --version | awk 'NR==1 { print $3 }') pid ${PIDS[-1]} on 127.0.0.1:$ETCD_PORT (peer $PEER_PORT)"

# Credentials: a static admin token and a service-account key pair.
TOKEN=$(openssl rand -hex 16)
printf '%s,admin,admin-uid,"system:masters"\n' "$TOKEN" >"$WORK/tokens.csv"
openssl genrsa -out "$WORK/sa.key" 2048 2>/dev/null
openssl rsa -in "$WORK/sa.key" -pubout -out "$WORK/sa.pub" 2>/dev/null
mkdir -p "$WORK/certs"

for _ in $(seq 100); do
	[[ -n $(ss -Htln "sport = :$ETCD_PORT") ]] && break
	kill -0 "${PIDS[0]}" 2>/dev/null || { echo "etcd exited" >&2; exit 1; }
	sleep 0.1
done
log "etcd listening"

"$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
	--bind-address 127.0.0.1 --secure-port "$API_PORT" --cert-dir "$WORK/certs" \
	--token-auth-file "$WORK/tokens.csv" --authorization-mode RBAC \
	--service-account-issuer https://kubernetes.default.svc \
	--service-account-key-file "$WORK/sa.pub" --service-account-signing-key-file "$WORK/sa.key" \
	--service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true \
	--disable-admission-plugins=TaintNodesByCondition >"$WORK/kube-apiserver.log" 2>&1 &
PIDS+=($!)
log "kube-apiserver $("$BIN/kube-apiserver" --version | awk '{ print $2 }') pid ${PIDS[-1]} on https://127.0.0.1:$API_PORT"

KUBECTL=("$BIN/kubectl" --server "https://127.0.0.1:$API_PORT" --token "$TOKEN" --insecure-skip-tls-verify)
ready=""
for _ in $(seq 120); do
	if ready=$("${KUBECTL[@]}" get --raw /readyz 2>/dev/null) && [[ $ready == ok ]]; then break; fi
	kill -0 "${PIDS[1]}" 2>/dev/null || { echo "kube-apiserver exited" >&2; exit 1; }
	sleep 0.5
done
[[ $ready == ok ]] || { echo "kube-apiserver not ready after 60s" >&2; exit 1; }
log "/readyz: $ready"

log "kubectl version:"
"${KUBECTL[@]}" version | sed 's/^/    /'
log "kubectl get ns:"
out=$("${KUBECTL[@]}" get ns)
sed 's/^/    /' <<<"$out"
grep -q '^kube-system ' <<<"$out" || { echo "kube-system namespace missing" >&2; exit 1; }
