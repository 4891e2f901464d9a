#!/usr/bin/env bash
# localnet.sh: a local buildchain network of N authorities (CometBFT validators) as real
# processes on loopback ports, each with its own home under one directory.
#
#   scripts/localnet.sh start [N]      init (first time) and start N authorities (default 4);
#                                      returns once blocks are produced, then registers
#                                      LOCALNET_BUILDERS build validators and starts their sidecars
#   scripts/localnet.sh stop           stop the processes this localnet started (pid files):
#                                      the sidecars first, then the authorities
#   scripts/localnet.sh status         heights and peers of every node, state of every sidecar
#   scripts/localnet.sh clean          stop, then delete the localnet directory
#   scripts/localnet.sh stop-node I    stop authority I only (SIGTERM; SIGKILL with KILL=1)
#   scripts/localnet.sh start-node I   start authority I again (it catches up from its peers)
#   scripts/localnet.sh stop-builder J / start-builder J   the same for builder J's sidecar
#   scripts/localnet.sh env            print the endpoints as shell variables
#   scripts/localnet.sh peers          the builders' libp2p addresses, comma separated (--peer)
#   scripts/localnet.sh demo           as a user: bootstrap, add examples/hello, publish it from
#                                      val0 and wait until it is VALID; as root mount the user's
#                                      store at /ipfs/store; print what to try next
#
# Environment (defaults in brackets):
#   LOCALNET_DIR [.localnet in the repository] where the node homes, logs and pid files live
#   LOCALNET_PORT_BASE [26600]   node I listens on BASE+10*I+{0 p2p, 1 rpc, 2 rest, 3 grpc, 4 pprof,
#                                5 abci, 6 CometBFT Prometheus /metrics}; the SDK's telemetry is
#                                on REST at /metrics?format=prometheus
#   LOCALNET_CHAIN_ID [buildchain-1]
#   LOCALNET_TIMEOUT_COMMIT [500ms]  block time
#   LOCALNET_START_TIMEOUT [90]  seconds `start` waits for blocks
#   LOCALNET_BUILDERS [3]        build validators (keys alice, bob, carol, ... in that order; at most 3)
#                                registered with the genesis min_bond for x86_64-linux, each with a
#                                sidecar (`buildchaind node run`) in $LOCALNET_DIR/builderJ. Builder J
#                                takes the port slot of node N+J: +0 libp2p, +1 metrics (/metrics, /status).
#                                0: authorities only.
#   LOCALNET_SNAPSHOT_INTERVAL [20]  every authority keeps a state-sync snapshot every this many
#                                blocks (app.toml [state-sync]), so a new node can join by state
#                                sync (docs/operator-guide.md); 0: none
#   LOCALNET_SIDECAR_FLAGS       extra flags of every builder's `node run`, e.g. '--fetch-timeout 60m'
#   LOCALNET_SNAPSHOT_KEEP_RECENT [10]  how many of them each authority keeps: a joining node picks
#                                a snapshot when it connects and fetches its chunks a while later
#                                (discovery, light-client checks), so a snapshot must outlive that
#                                (the SDK's default of 2 lasts 40 blocks, 20 s here: too short)
#   LOCALNET_GENESIS_JQ          a jq filter applied to the genesis when it is created, e.g.
#                                '.app_state.claims.params.report_timeout_blocks = "5"'
#   LOCALNET_SYSTEM_STORE [/ipfs/store]  where demo (as root) mounts the user's store, so installed
#                                programs (whose #! lines name /ipfs/store/...) run as plain commands;
#                                stop unmounts it. Empty: no mount.
#   BUILDCHAIND [build/buildchaind if present, else buildchaind on PATH]
#
# Accounts (keyring-backend test, keyring in $LOCALNET_DIR/node0): val0..valN-1 (the
# authorities' operators) and alice, bob, carol, each funded with 1,000,000 BCT;
# $LOCALNET_DIR/NAME.key.json holds each key's address and mnemonic (`keys add -o json`).
#
# `start` of a new localnet runs buildchaind as few times as it can (one init and one gentx per
# node, one keys add per key, one bulk-add-genesis-account, collect-gentxs, validate: 18 runs
# for 4 nodes instead of 44): on a loaded machine each run costs a second or more, and the
# tests start a localnet each.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
# Absolute, so pid checks and printed commands work from any directory.
DIR="$(realpath -m "${LOCALNET_DIR:-$root/.localnet}")"
BASE="${LOCALNET_PORT_BASE:-26600}"
CHAIN_ID="${LOCALNET_CHAIN_ID:-buildchain-1}"
TIMEOUT_COMMIT="${LOCALNET_TIMEOUT_COMMIT:-500ms}"
START_TIMEOUT="${LOCALNET_START_TIMEOUT:-90}"
BUILDERS="${LOCALNET_BUILDERS:-3}"
SNAPSHOT_INTERVAL="${LOCALNET_SNAPSHOT_INTERVAL:-20}"
SNAPSHOT_KEEP_RECENT="${LOCALNET_SNAPSHOT_KEEP_RECENT:-10}"
BUILDER_SYSTEM=x86_64-linux
DENOM=ubct
ACCOUNTS=(alice bob carol)
ACCOUNT_FUNDS="1000000000000${DENOM}" # 1,000,000 BCT
VAL_FUNDS="1000000000000${DENOM}"
VAL_STAKE="100000000000${DENOM}" # 100,000 BCT

if [ -n "${BUILDCHAIND:-}" ]; then
	BIN="$BUILDCHAIND"
elif [ -x "$root/build/buildchaind" ]; then
	BIN="$root/build/buildchaind"
else
	BIN="buildchaind"
fi

die() { echo "localnet: $*" >&2; exit 1; }

# A localnet keeps the port base and chain id it was created with (they are baked into its
# config files), so later commands find it whatever the environment says.
if [ -f "$DIR/settings" ]; then
	saved_base="$(sed -n 's/^PORT_BASE=//p' "$DIR/settings")"
	saved_chain="$(sed -n 's/^CHAIN_ID=//p' "$DIR/settings")"
	if [ -n "${LOCALNET_PORT_BASE:-}" ] && [ "$LOCALNET_PORT_BASE" != "$saved_base" ]; then
		echo "localnet: ignoring LOCALNET_PORT_BASE=$LOCALNET_PORT_BASE: $DIR was created with port base $saved_base (clean it to change)" >&2
	fi
	if [ -n "${LOCALNET_CHAIN_ID:-}" ] && [ "$LOCALNET_CHAIN_ID" != "$saved_chain" ]; then
		echo "localnet: ignoring LOCALNET_CHAIN_ID=$LOCALNET_CHAIN_ID: $DIR was created with chain id $saved_chain (clean it to change)" >&2
	fi
	BASE="$saved_base"
	CHAIN_ID="$saved_chain"
fi

need() { command -v "$1" >/dev/null 2>&1 || die "needs '$1' (run: make deps)"; }

p2p_port() { echo $((BASE + 10 * $1)); }
rpc_port() { echo $((BASE + 10 * $1 + 1)); }
api_port() { echo $((BASE + 10 * $1 + 2)); }
grpc_port() { echo $((BASE + 10 * $1 + 3)); }
pprof_port() { echo $((BASE + 10 * $1 + 4)); }
prom_port() { echo $((BASE + 10 * $1 + 6)); }
home_of() { echo "$DIR/node$1"; }
pidfile_of() { echo "$DIR/node$1.pid"; }

# node_count prints the number of initialised nodes.
node_count() {
	local n=0
	while [ -d "$(home_of "$n")/config" ]; do n=$((n + 1)); done
	echo "$n"
}

# proc_running PID: true while the process exists and is not a zombie (an exited node whose
# parent, after setsid, may be an init that does not reap).
proc_running() {
	# (/proc files report size 0, so read the content rather than test -s.)
	[ -n "$1" ] && [ -n "$({ tr -d '\0' <"/proc/$1/cmdline"; } 2>/dev/null)" ]
}

# node_alive I: true if node I's pid file names a live process started by this script for
# node I's home. Checking the command line guards against a recycled pid belonging to someone
# else, whatever binary was used.
node_alive() {
	local f pid
	f="$(pidfile_of "$1")"
	[ -f "$f" ] || return 1
	pid="$(cat "$f")"
	proc_running "$pid" || return 1
	{ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF " start --home $(home_of "$1")"
}

running_nodes() {
	local i out=()
	for f in "$DIR"/node*.pid; do
		[ -e "$f" ] || continue
		i="${f##*/node}"
		i="${i%.pid}"
		if node_alive "$i"; then
			out+=("$i")
		fi
	done
	echo "${out[@]:-}"
}

# set_toml FILE SECTION KEY VALUE [SECTION KEY VALUE ...]: sets each KEY in its [SECTION] (""
# for the top level), in one pass over FILE; VALUE is written verbatim (quote strings yourself).
# Every KEY must already be in FILE.
set_toml() {
	local file="$1" spec="" tmp
	shift
	while [ "$#" -ge 3 ]; do
		spec+="$1"$'\t'"$2"$'\t'"$3"$'\n'
		shift 3
	done
	[ "$#" -eq 0 ] || die "set_toml $file: arguments must come in threes (section key value)"
	tmp="$(mktemp)"
	awk -v spec="$spec" '
		BEGIN {
			n = split(spec, lines, "\n"); want = 0
			for (i = 1; i <= n; i++) {
				if (lines[i] == "") continue
				split(lines[i], f, "\t"); want++
				val[f[1] "\t" f[2]] = substr(lines[i], length(f[1]) + length(f[2]) + 3)
			}
			cur = ""; done = 0
		}
		/^\[.*\]$/ { cur = substr($0, 2, length($0) - 2) }
		{
			if (match($0, /^[A-Za-z0-9_.-]+[ \t]*=/)) {
				k = $0; sub(/[ \t]*=.*/, "", k)
				if ((cur "\t" k) in val && !((cur "\t" k) in seen)) {
					seen[cur "\t" k] = 1; done++
					print k " = " val[cur "\t" k]; next
				}
			}
			print
		}
		END {
			if (done < want) {
				for (x in val) if (!(x in seen)) { split(x, f, "\t"); print "missing [" f[1] "] " f[2] > "/dev/stderr" }
				exit 3
			}
		}
	' "$file" >"$tmp" || { rm -f "$tmp"; die "could not set every key in $file"; }
	mv "$tmp" "$file"
}

run() { # run the binary quietly; show its output on failure
	local out
	if ! out="$("$BIN" "$@" 2>&1)"; then
		echo "$out" >&2
		die "failed: $(basename "$BIN") $*"
	fi
	printf '%s' "$out"
}

# All keys live in node0's home, so `--home $DIR/node0` is all a CLI user needs.
keyring_flags() { echo "--keyring-backend test --keyring-dir $DIR/node0"; }

addr_of() { # addr_of NAME: from the JSON `keys add` wrote at init, else the keyring
	local a=""
	[ -f "$DIR/$1.key.json" ] && a="$(jq -r '.address // empty' "$DIR/$1.key.json" 2>/dev/null || true)"
	if [ -n "$a" ]; then
		echo "$a"
		return
	fi
	# shellcheck disable=SC2046
	run keys show "$1" -a $(keyring_flags)
}

init_net() {
	local n="$1" i h g
	need jq
	mkdir -p "$DIR"
	for ((i = 0; i < n; i++)); do
		h="$(home_of "$i")"
		run init "node$i" --chain-id "$CHAIN_ID" --home "$h" >/dev/null
		# shellcheck disable=SC2046
		run keys add "val$i" $(keyring_flags) --output json >"$DIR/val$i.key.json"
	done
	for a in "${ACCOUNTS[@]}"; do
		# shellcheck disable=SC2046
		run keys add "$a" $(keyring_flags) --output json >"$DIR/$a.key.json"
	done

	h0="$(home_of 0)"
	g="$h0/config/genesis.json"
	# Localnet-friendly genesis: short governance and unbonding periods so tests can exercise
	# proposals and unbonding in seconds; everything else stays the app default.
	jq --arg d "$DENOM" '
		.app_state.gov.params.voting_period = "20s" |
		.app_state.gov.params.expedited_voting_period = "10s" |
		.app_state.gov.params.max_deposit_period = "20s" |
		.app_state.gov.params.min_deposit = [{"denom": $d, "amount": "10000000"}] |
		.app_state.gov.params.expedited_min_deposit = [{"denom": $d, "amount": "50000000"}] |
		.app_state.staking.params.unbonding_time = "60s" |
		.app_state.bank.denom_metadata = [{
			"description": "BCT, the buildchain token", "base": $d, "display": "bct",
			"name": "BCT", "symbol": "BCT",
			"denom_units": [{"denom": $d, "exponent": 0}, {"denom": "bct", "exponent": 6}]
		}]
	' "$g" >"$g.tmp" && mv "$g.tmp" "$g"
	if [ -n "${LOCALNET_GENESIS_JQ:-}" ]; then
		jq "$LOCALNET_GENESIS_JQ" "$g" >"$g.tmp" || { rm -f "$g.tmp"; die "LOCALNET_GENESIS_JQ filter failed"; }
		mv "$g.tmp" "$g"
	fi

	# One bulk-add-genesis-account for all accounts (a buildchaind run costs a second or more
	# on a loaded machine; tests start many localnets).
	local accounts=() name funds
	for ((i = 0; i < n; i++)); do accounts+=("val$i"); done
	accounts+=("${ACCOUNTS[@]}")
	for name in "${accounts[@]}"; do
		funds="$ACCOUNT_FUNDS"
		[[ "$name" == val* ]] && funds="$VAL_FUNDS"
		jq -n --arg a "$(addr_of "$name")" --arg c "$funds" \
			'{address: $a, coins: [{denom: ($c | sub("^[0-9]+"; "")), amount: ($c | capture("^(?<n>[0-9]+)").n)}]}'
	done | jq -s . >"$DIR/genesis-accounts.json"
	run genesis bulk-add-genesis-account "$DIR/genesis-accounts.json" --home "$h0" >/dev/null
	mkdir -p "$h0/config/gentx"
	for ((i = 0; i < n; i++)); do
		h="$(home_of "$i")"
		[ "$i" -eq 0 ] || cp "$g" "$h/config/genesis.json"
		# shellcheck disable=SC2046
		run genesis gentx "val$i" "$VAL_STAKE" --chain-id "$CHAIN_ID" --home "$h" $(keyring_flags) \
			--moniker "node$i" --ip 127.0.0.1 --p2p-port "$(p2p_port "$i")" \
			--output-document "$h0/config/gentx/gentx-node$i.json" >/dev/null
	done
	run genesis collect-gentxs --home "$h0" >/dev/null
	run genesis validate --home "$h0" >/dev/null

	# Every gentx's memo is its node's id@ip:port (gentx --ip --p2p-port above).
	local peers
	peers="$(for ((i = 0; i < n; i++)); do jq -r '.body.memo' "$h0/config/gentx/gentx-node$i.json"; done | paste -sd,)"
	[[ "$peers" =~ ^([0-9a-f]{40}@127\.0\.0\.1:[0-9]+,?)+$ ]] || die "could not read the node ids from the gentxs (got '$peers')"

	for ((i = 0; i < n; i++)); do
		h="$(home_of "$i")"
		[ "$i" -eq 0 ] || cp "$g" "$h/config/genesis.json"
		local c="$h/config/config.toml" a="$h/config/app.toml" cl="$h/config/client.toml"
		# All nodes share 127.0.0.1: CometBFT would otherwise refuse peers on one IP
		# (addr_book_strict, allow_duplicate_ip). Operators' view: CometBFT's Prometheus
		# metrics, the SDK's telemetry (REST /metrics?format=prometheus), and CORS so that a
		# browser explorer (Ping.pub) can read.
		set_toml "$c" \
			"" proxy_app "\"tcp://127.0.0.1:$((BASE + 10 * i + 5))\"" \
			rpc laddr "\"tcp://127.0.0.1:$(rpc_port "$i")\"" \
			rpc pprof_laddr "\"127.0.0.1:$(pprof_port "$i")\"" \
			p2p laddr "\"tcp://127.0.0.1:$(p2p_port "$i")\"" \
			p2p persistent_peers "\"$peers\"" \
			p2p addr_book_strict false \
			p2p allow_duplicate_ip true \
			consensus timeout_commit "\"$TIMEOUT_COMMIT\"" \
			instrumentation prometheus true \
			instrumentation prometheus_listen_addr "\"127.0.0.1:$(prom_port "$i")\"" \
			rpc cors_allowed_origins '["*"]'
		set_toml "$a" \
			telemetry enabled true \
			telemetry prometheus-retention-time 600 \
			api enabled-unsafe-cors true \
			api enable true \
			api swagger true \
			api address "\"tcp://127.0.0.1:$(api_port "$i")\"" \
			grpc enable true \
			grpc address "\"127.0.0.1:$(grpc_port "$i")\"" \
			"" minimum-gas-prices "\"0$DENOM\"" \
			state-sync snapshot-interval "$SNAPSHOT_INTERVAL" \
			state-sync snapshot-keep-recent "$SNAPSHOT_KEEP_RECENT"
		set_toml "$cl" \
			"" chain-id "\"$CHAIN_ID\"" \
			"" keyring-backend '"test"' \
			"" node "\"tcp://127.0.0.1:$(rpc_port "$i")\"" \
			"" broadcast-mode '"sync"'
	done
	printf 'PORT_BASE=%s\nCHAIN_ID=%s\n' "$BASE" "$CHAIN_ID" >"$DIR/settings"
}

start_node() {
	local i="$1" h
	h="$(home_of "$i")"
	[ -d "$h/config" ] || die "node $i does not exist in $DIR"
	node_alive "$i" && die "node $i is already running (pid $(cat "$(pidfile_of "$i")"))"
	# setsid: the node outlives this script and its terminal; stop kills exactly this pid.
	setsid "$BIN" start --home "$h" --log_no_color >>"$DIR/node$i.log" 2>&1 </dev/null &
	echo $! >"$(pidfile_of "$i")"
}

stop_node() {
	local i="$1" f pid sig="TERM"
	f="$(pidfile_of "$i")"
	[ "${KILL:-0}" = 1 ] && sig="KILL"
	if node_alive "$i"; then
		pid="$(cat "$f")"
		kill "-$sig" "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			proc_running "$pid" || break
			sleep 0.1
		done
		if proc_running "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.2
		fi
	fi
	rm -f "$f"
}

height_of() { # height_of I: latest block height from CometBFT RPC, or empty
	curl -fsS --max-time 2 "http://127.0.0.1:$(rpc_port "$1")/status" 2>/dev/null |
		jq -r '.result.sync_info.latest_block_height' 2>/dev/null || true
}

peers_of() {
	curl -fsS --max-time 2 "http://127.0.0.1:$(rpc_port "$1")/net_info" 2>/dev/null |
		jq -r '.result.n_peers' 2>/dev/null || true
}

wait_blocks() { # wait until node 0 reports height >= 2
	local deadline=$((SECONDS + START_TIMEOUT)) h
	while [ $SECONDS -lt $deadline ]; do
		h="$(height_of 0)"
		if [ -n "$h" ] && [ "$h" != null ] && [ "$h" -ge 2 ]; then
			return 0
		fi
		for f in "$DIR"/node*.pid; do
			local j="${f##*/node}"
			j="${j%.pid}"
			node_alive "$j" || { echo "localnet: node$j exited; log tail:" >&2; tail -20 "${f%.pid}.log" >&2; return 1; }
		done
		sleep 0.5
	done
	echo "localnet: no blocks after ${START_TIMEOUT}s; node0 log tail:" >&2
	tail -20 "$DIR/node0.log" >&2
	return 1
}

print_env() {
	local n i
	n="$(node_count)"
	echo "LOCALNET_DIR=$DIR"
	echo "CHAIN_ID=$CHAIN_ID"
	for ((i = 0; i < n; i++)); do
		echo "NODE${i}_HOME=$(home_of "$i")"
		echo "NODE${i}_RPC=http://127.0.0.1:$(rpc_port "$i")"
		echo "NODE${i}_REST=http://127.0.0.1:$(api_port "$i")"
		echo "NODE${i}_GRPC=127.0.0.1:$(grpc_port "$i")"
	done
	local j m
	m="$(builder_count)"
	for ((j = 0; j < m; j++)); do
		echo "BUILDER${j}_HOME=$(builder_home "$j")"
		echo "BUILDER${j}_STATUS=http://127.0.0.1:$(builder_metrics_port "$j")/status"
	done
	echo "BUILDER_PEERS=$(builder_peers)"
	echo "USER_HOME=$DIR/user"
}

print_summary() {
	local n i
	n="$(node_count)"
	echo "localnet: $n authorities of chain $CHAIN_ID running (dir $DIR)"
	for ((i = 0; i < n; i++)); do
		printf '  node%d  rpc http://127.0.0.1:%d  rest http://127.0.0.1:%d  grpc 127.0.0.1:%d  log %s\n' \
			"$i" "$(rpc_port "$i")" "$(api_port "$i")" "$(grpc_port "$i")" "$DIR/node$i.log"
	done
	local j
	for ((j = 0; j < $(builder_count); j++)); do
		builder_alive "$j" || continue
		printf '  builder%d (%s)  sidecar pid %s  libp2p %s  metrics http://127.0.0.1:%d/status  log %s\n' \
			"$j" "$(builder_key "$j")" "$(cat "$(builder_pidfile "$j")")" "$(builder_peer "$j")" \
			"$(builder_metrics_port "$j")" "$DIR/builder$j.log"
	done
	echo "  OpenAPI: http://127.0.0.1:$(api_port 0)/buildchain/openapi.json (buildchain modules), http://127.0.0.1:$(api_port 0)/swagger/ (SDK modules)"
	echo "accounts (keyring-backend test, in --home $DIR/node0):"
	for a in "${ACCOUNTS[@]}"; do
		printf '  %-6s %s\n' "$a" "$(addr_of "$a")"
	done
	for ((i = 0; i < n; i++)); do
		printf '  %-6s %s (authority operator)\n' "val$i" "$(addr_of "val$i")"
	done
}

# --- build validators (sidecars) ---------------------------------------------------------

builder_home() { echo "$DIR/builder$1"; }
builder_pidfile() { echo "$DIR/builder$1.pid"; }
builder_key() { echo "${ACCOUNTS[$1]}"; }
# Builder J takes the port slot of node N+J, so one LOCALNET_PORT_BASE block holds everything.
builder_p2p_port() { echo $((BASE + 10 * ($(node_count) + $1))); }
builder_metrics_port() { echo $((BASE + 10 * ($(node_count) + $1) + 1)); }

# builder_count prints the number of builder homes (builders started at least once).
builder_count() {
	local m=0
	while [ -d "$(builder_home "$m")" ]; do m=$((m + 1)); done
	echo "$m"
}

# builder_alive J: like node_alive, for builder J's sidecar.
builder_alive() {
	local f pid
	f="$(builder_pidfile "$1")"
	[ -f "$f" ] || return 1
	pid="$(cat "$f")"
	proc_running "$pid" || return 1
	{ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF " node run --home $(builder_home "$1") "
}

# builder_peer J: builder J's libp2p address (multiaddr/p2p/ID) on 127.0.0.1, from the
# info.json its sidecar writes at start; empty if it has not written one yet.
builder_peer() {
	local info
	info="$(builder_home "$1")/sidecar/info.json"
	[ -f "$info" ] || return 0
	jq -r --arg p "/ip4/127.0.0.1/tcp/$(builder_p2p_port "$1")" \
		'select(.peer_id != null and .peer_id != "") | $p + "/p2p/" + .peer_id' "$info" 2>/dev/null || true
}

# builder_peers: every builder's address, comma separated (for --peer).
builder_peers() {
	local j m p out=""
	m="$(builder_count)"
	for ((j = 0; j < m; j++)); do
		p="$(builder_peer "$j")"
		[ -n "$p" ] && out="${out:+$out,}$p"
	done
	echo "$out"
}

check_builders() { # check_builders M: M is a valid builder count
	[[ "$1" =~ ^[0-9]+$ ]] || die "LOCALNET_BUILDERS must be a number, got '$1'"
	[ "$1" -le "${#ACCOUNTS[@]}" ] || die "LOCALNET_BUILDERS=$1: at most ${#ACCOUNTS[@]} builders (keys ${ACCOUNTS[*]})"
}

# register_builders M: makes the first M accounts build validators (those already registered
# on chain are left alone, so a restarted localnet keeps its builders) and waits for inclusion.
register_builders() {
	local m="$1" j key addr bond out hash code hashes=() deadline
	[ "$m" -gt 0 ] || return 0
	# shellcheck disable=SC2046
	bond="$(run query validators params --home "$DIR/node0" -o json | jq -r '.params.min_bond | .amount + .denom')"
	[[ "$bond" =~ ^[0-9]+[a-z]+$ ]] || die "could not read validators min_bond (got '$bond')"
	for ((j = 0; j < m; j++)); do
		key="$(builder_key "$j")"
		addr="$(addr_of "$key")"
		if "$BIN" query validators validator "$addr" --home "$DIR/node0" -o json >/dev/null 2>&1; then
			continue
		fi
		# shellcheck disable=SC2046
		out="$(run tx validators register "$bond" "$BUILDER_SYSTEM" --from "$key" --home "$DIR/node0" \
			$(keyring_flags) --gas 400000 -y -o json)"
		code="$(jq -r '.code // 0' <<<"$out")"
		[ "$code" = 0 ] || die "register $key as a build validator: $(jq -r '.raw_log' <<<"$out")"
		hashes+=("$(jq -r '.txhash' <<<"$out")")
	done
	for hash in "${hashes[@]}"; do
		deadline=$((SECONDS + 30))
		while :; do
			if out="$("$BIN" query tx "$hash" --home "$DIR/node0" -o json 2>/dev/null)"; then
				code="$(jq -r '.code // 0' <<<"$out")"
				[ "$code" = 0 ] || die "register tx $hash failed: $(jq -r '.raw_log' <<<"$out")"
				break
			fi
			[ $SECONDS -lt $deadline ] || die "register tx $hash not included after 30s"
			sleep 0.5
		done
	done
	[ "${#hashes[@]}" -eq 0 ] || echo "localnet: registered ${#hashes[@]} build validator(s) with bond $bond for $BUILDER_SYSTEM" >&2
}

# start_builder J: starts builder J's sidecar against authority J mod N and waits until it
# serves its status, so callers can publish right away.
start_builder() {
	local j="$1" n h key peers deadline
	n="$(node_count)"
	h="$(builder_home "$j")"
	key="$(builder_key "$j")"
	builder_alive "$j" && die "builder $j is already running (pid $(cat "$(builder_pidfile "$j")"))"
	mkdir -p "$h"
	# Peers: the builders already up (mDNS may be unavailable, e.g. in containers).
	peers="$(builder_peers)"
	# Each sidecar writes its own info.json; a stale one from a previous run must not be read
	# as this run's address (same key and port, but wait for the fresh pid below).
	rm -f "$h/sidecar/info.json"
	# shellcheck disable=SC2046,SC2086
	setsid "$BIN" node run --home "$h" --from "$key" $(keyring_flags) \
		--node "tcp://127.0.0.1:$(rpc_port $((j % n)))" --chain-id "$CHAIN_ID" \
		--store "$h/ipfs" --p2p-listen "/ip4/127.0.0.1/tcp/$(builder_p2p_port "$j")" \
		--metrics-addr "127.0.0.1:$(builder_metrics_port "$j")" \
		${peers:+--peer "$peers"} ${LOCALNET_SIDECAR_FLAGS:-} --log_no_color >>"$DIR/builder$j.log" 2>&1 </dev/null &
	echo $! >"$(builder_pidfile "$j")"
	deadline=$((SECONDS + 60))
	while :; do
		sleep 0.3 # (also lets the forked shell exec the binary before its cmdline is checked)
		# Under load the forked shell may not have exec'd the binary yet: running is not exited.
		if ! builder_alive "$j" && ! { proc_running "$(cat "$(builder_pidfile "$j")")" && [ $SECONDS -lt $deadline ]; }; then
			tail -20 "$DIR/builder$j.log" >&2; die "builder $j ($key) exited; log $DIR/builder$j.log"
		fi
		if [ -f "$h/sidecar/info.json" ] &&
			curl -fsS --max-time 2 "http://127.0.0.1:$(builder_metrics_port "$j")/status" >/dev/null 2>&1; then
			return 0
		fi
		[ $SECONDS -lt $deadline ] || { tail -20 "$DIR/builder$j.log" >&2; die "builder $j ($key) not serving its status after 60s"; }
	done
}

stop_builder() {
	local j="$1" f pid sig="TERM"
	f="$(builder_pidfile "$j")"
	[ "${KILL:-0}" = 1 ] && sig="KILL"
	if builder_alive "$j"; then
		pid="$(cat "$f")"
		kill "-$sig" "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			proc_running "$pid" || break
			sleep 0.1
		done
		if proc_running "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.2
		fi
	fi
	rm -f "$f"
}

# unmount_under DIR: lazily unmounts FUSE views a killed sidecar left under DIR, so clean
# can delete them.
unmount_under() {
	local mp
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts 2>/dev/null | sort -r | while read -r mp; do
		fusermount3 -u -z "$mp" 2>/dev/null || fusermount -u -z "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
	done
}

# --- the user's store at /ipfs/store ------------------------------------------------------
# Build outputs name /ipfs/store/{cid}, in their #! lines too, so an installed program runs as
# a plain command only where a store is mounted there (as /nix/store for Nix). As root, demo
# mounts the user's store there with a `store mount` process (pid file like a sidecar's); stop
# ends it, which unmounts. contrib/systemd/buildchain-store.service does the same for operators.

SYSTEM_STORE="${LOCALNET_SYSTEM_STORE-/ipfs/store}"
user_store() { echo "$DIR/user/ipfs"; }
mount_pidfile() { echo "$DIR/store-mount.pid"; }

# mounted_store DIR: the root of the store whose view is mounted at DIR (the kernel's mount
# table names it in the mount's source, see fusefs.MountedStore), "?" for another kind of
# mount, empty for none.
mounted_store() {
	awk -v d="$1" '
		{
			split($0, half, " - "); split(half[1], p, " "); split(half[2], q, " ")
			if (p[5] == d) { src = (q[1] ~ /^fuse\./ && q[2] ~ /^buildchain-store:/) ? substr(q[2], 18) : "?" }
		}
		END { print src }' /proc/self/mountinfo 2>/dev/null || true
}

# mount_alive: the pid file names a live `store mount` of the user's store at SYSTEM_STORE.
mount_alive() {
	local f pid
	f="$(mount_pidfile)"
	[ -f "$f" ] || return 1
	pid="$(cat "$f")"
	proc_running "$pid" || return 1
	{ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF " store mount --store $(user_store) "
}

# start_user_mount: mounts the user's store at SYSTEM_STORE (as root) unless it is mounted
# there already; as another user, prints the command to run. Never takes over a mount
# point that holds something else.
start_user_mount() {
	local cur deadline
	[ -n "$SYSTEM_STORE" ] || return 0
	cur="$(mounted_store "$SYSTEM_STORE")"
	[ "$cur" != "$(user_store)" ] || return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "localnet: installed programs run as plain commands where the store is mounted at $SYSTEM_STORE; as root, run:"
		echo "  sudo $BIN store mount --store $(user_store) $SYSTEM_STORE --allow-other &"
		return 0
	fi
	if [ -n "$cur" ]; then
		echo "localnet: $SYSTEM_STORE already holds another mount (${cur/#\?/not a store}); leaving it alone" >&2
		return 0
	fi
	stop_user_mount # a process whose mount went away (unmounted from outside)
	setsid "$BIN" store mount --store "$(user_store)" "$SYSTEM_STORE" --allow-other \
		>>"$DIR/store-mount.log" 2>&1 </dev/null &
	echo $! >"$(mount_pidfile)"
	deadline=$((SECONDS + 30))
	until [ "$(mounted_store "$SYSTEM_STORE")" = "$(user_store)" ]; do
		if ! mount_alive || [ $SECONDS -ge $deadline ]; then
			tail -5 "$DIR/store-mount.log" >&2
			stop_user_mount
			die "could not mount the user's store at $SYSTEM_STORE (log $DIR/store-mount.log)"
		fi
		sleep 0.2
	done
	echo "localnet: the user's store is mounted at $SYSTEM_STORE (pid $(cat "$(mount_pidfile)"), log $DIR/store-mount.log)"
}

# stop_user_mount: ends the mount process (SIGTERM: it unmounts); if it had to be killed, or
# the unmount failed (a busy mount), detaches what is left of the user's store there.
stop_user_mount() {
	local f pid
	f="$(mount_pidfile)"
	if mount_alive; then
		pid="$(cat "$f")"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			proc_running "$pid" || break
			sleep 0.1
		done
		proc_running "$pid" && kill -KILL "$pid" 2>/dev/null || true
	fi
	if [ -n "$SYSTEM_STORE" ] && [ "$(mounted_store "$SYSTEM_STORE")" = "$(user_store)" ]; then
		fusermount3 -u -z "$SYSTEM_STORE" 2>/dev/null || umount -l "$SYSTEM_STORE" 2>/dev/null || true
	fi
	rm -f "$f"
}

# port_in_use PORT: true if something accepts connections on 127.0.0.1:PORT.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

check_ports_free() { # check_ports_free N [M]: N authorities and M builders
	local i p busy=()
	for ((i = 0; i < $1; i++)); do
		for p in $(p2p_port "$i") $(rpc_port "$i") $(api_port "$i") $(grpc_port "$i") $(pprof_port "$i") $(prom_port "$i"); do
			port_in_use "$p" && busy+=("$p")
		done
	done
	for ((i = $1; i < $1 + ${2:-0}; i++)); do
		for p in $((BASE + 10 * i)) $((BASE + 10 * i + 1)); do
			port_in_use "$p" && busy+=("$p")
		done
	done
	[ "${#busy[@]}" -eq 0 ] ||
		die "ports in use: ${busy[*]} (another localnet or program?); pick another block with LOCALNET_PORT_BASE. Nothing was changed."
}

cmd_start() {
	local explicit="${1:-}" n="${1:-4}" running i j
	[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "start: N must be a positive integer, got '$n'"
	check_builders "$BUILDERS"
	need curl
	need jq
	command -v "$BIN" >/dev/null 2>&1 || die "binary '$BIN' not found (run: make build)"
	running="$(running_nodes)"
	if [ -n "$running" ]; then
		die "already running in $DIR (nodes: $running); run '$0 stop' first. Nothing was changed."
	fi
	if [ -d "$DIR/node0/config" ]; then
		check_ports_free "$(node_count)" "$BUILDERS"
		local have
		have="$(node_count)"
		if [ -n "$explicit" ] && [ "$explicit" != "$have" ]; then
			die "$DIR already holds a $have-node localnet; run '$0 clean' to make a $n-node one. Nothing was changed."
		fi
		n="$have"
		echo "localnet: restarting the existing $n-node localnet in $DIR" >&2
	else
		check_ports_free "$n" "$BUILDERS"
		echo "localnet: initialising $n authorities in $DIR" >&2
		init_net "$n"
	fi
	for ((i = 0; i < n; i++)); do
		start_node "$i"
	done
	if ! wait_blocks; then
		for ((i = 0; i < n; i++)); do stop_node "$i"; done
		die "start failed; nodes stopped"
	fi
	if [ "$BUILDERS" -gt 0 ]; then
		# A failed builder stops everything this start began, so a retry starts clean.
		if ! (register_builders "$BUILDERS" && for ((j = 0; j < BUILDERS; j++)); do start_builder "$j"; done); then
			for ((j = 0; j < BUILDERS; j++)); do stop_builder "$j"; done
			for ((i = 0; i < n; i++)); do stop_node "$i"; done
			die "starting the builders failed; everything stopped"
		fi
	fi
	print_summary
	echo "try:"
	echo "  $BIN --home $DIR/node0 tx bank send alice $(addr_of bob) 1000000ubct -y"
	echo "  curl http://127.0.0.1:$(api_port 0)/cosmos/bank/v1beta1/balances/$(addr_of bob)"
	echo "  $BIN --home $DIR/node0 query bct params"
}

cmd_stop() {
	local any=0 f i
	if [ -e "$(mount_pidfile)" ]; then
		stop_user_mount
		any=1
	fi
	# Sidecars first: they follow the chain and would log errors while it goes away.
	for f in "$DIR"/builder*.pid; do
		[ -e "$f" ] || continue
		i="${f##*/builder}"
		stop_builder "${i%.pid}"
		any=1
	done
	for f in "$DIR"/node*.pid; do
		[ -e "$f" ] || continue
		i="${f##*/node}"
		stop_node "${i%.pid}"
		any=1
	done
	[ "$any" = 1 ] && echo "localnet: stopped" || echo "localnet: nothing running in $DIR"
}

cmd_status() {
	local n i state h p
	n="$(node_count)"
	[ "$n" -gt 0 ] || { echo "localnet: no localnet in $DIR"; return 1; }
	for ((i = 0; i < n; i++)); do
		if node_alive "$i"; then
			state="running pid $(cat "$(pidfile_of "$i")")"
			h="$(height_of "$i")"
			p="$(peers_of "$i")"
		else
			state="stopped"
			h="-"
			p="-"
		fi
		printf 'node%d  %-18s height %-8s peers %s\n' "$i" "$state" "${h:--}" "${p:--}"
	done
	local j m last
	m="$(builder_count)"
	for ((j = 0; j < m; j++)); do
		if builder_alive "$j"; then
			state="running pid $(cat "$(builder_pidfile "$j")")"
		else
			state="stopped"
		fi
		last="$("$BIN" node status --home "$(builder_home "$j")" --json 2>/dev/null | jq -r '.last_height // empty' 2>/dev/null || true)"
		printf 'builder%d  %-18s key %-6s last handled height %s\n' "$j" "$state" "$(builder_key "$j")" "${last:--}"
		if [ "${VERBOSE:-0}" = 1 ]; then
			"$BIN" node status --home "$(builder_home "$j")" 2>&1 | sed 's/^/    /' || true
		fi
	done
	if mount_alive; then
		echo "store mount  running pid $(cat "$(mount_pidfile)"): the user's store at $SYSTEM_STORE"
	fi
}

cmd_clean() {
	cmd_stop >/dev/null
	case "$DIR" in "" | / | "$HOME") die "refusing to delete '$DIR'" ;; esac
	unmount_under "$DIR"
	rm -rf "$DIR"
	echo "localnet: removed $DIR"
}

# cmd_demo: what `make run` does once the network is up: as a user (store in $DIR/user)
# import the bootstrap tools, add examples/hello, publish it from val0 (an authority operator,
# funded and not a builder) and wait for the verdict; then print what to try next. Running it
# again publishes nothing new once hello is verified.
cmd_demo() {
	local user="$DIR/user" drv verdict claim output peers from="${LOCALNET_PUBLISHER:-val0}"
	[ -n "$(running_nodes)" ] || die "demo: no localnet running in $DIR (run '$0 start')"
	need jq
	peers="$(builder_peers)"
	[ -n "$peers" ] || die "demo: no builders running (start the localnet with LOCALNET_BUILDERS>0)"
	export BUILDCHAIN_HOME="$user"
	mkdir -p "$user"
	run bootstrap >/dev/null
	drv="$(run drv add "$root/examples/hello/hello.json")"
	echo "localnet: hello derivation $drv"
	if ! "$BIN" verify "$drv" --home "$DIR/node0" --no-fetch 2>/dev/null | grep -q '^VALID'; then
		echo "localnet: publishing it from $from; the builders rebuild it and the chain decides:"
		# shellcheck disable=SC2046
		"$BIN" publish "$drv" --from "$from" --home "$DIR/node0" $(keyring_flags) --peer "$peers" \
			--wait-timeout "${LOCALNET_PUBLISH_TIMEOUT:-5m}" -y 2>&1 | sed 's/^/  /'
		[ "${PIPESTATUS[0]}" = 0 ] || die "publish failed (builder logs: $DIR/builder*.log)"
	fi
	verdict="$("$BIN" verify "$drv" --home "$DIR/node0" --no-fetch 2>&1)" || true
	grep -q '^VALID' <<<"$verdict" || die "hello is not verified: $verdict"
	claim="$(sed -n 's/.*(claim \([0-9]*\),.*/\1/p' <<<"$verdict" | head -1)"
	output="$(sed -n 's/.* builds to \([a-z0-9]*\).*/\1/p' <<<"$verdict" | head -1)"
	echo "localnet: $verdict"
	start_user_mount
	local b="$BIN" u="BUILDCHAIN_HOME=$user"
	cat <<EOF

Try next (the user's store and profile are in $user):
  $u $b verify $drv --home $DIR/node0 --peer $peers
  $u $b install $drv --home $DIR/node0 --peer $peers
  ~/.buildchain-profile/bin/hello
  $u $b store cat $output/bin/hello
  curl http://127.0.0.1:$(api_port 0)/buildchain/claims/v1/claims/$claim
  $b --home $DIR/node0 query claims claim $claim
  $0 status        # authorities and builders (VERBOSE=1: each sidecar's node status)
  make stop        # or: $0 clean (wipe the chain and the stores)
EOF
}

case "${1:-}" in
start) shift; cmd_start "$@" ;;
stop) cmd_stop ;;
status) cmd_status ;;
clean) cmd_clean ;;
start-node) [ -n "${2:-}" ] || die "usage: $0 start-node I"; start_node "$2" ;;
stop-node) [ -n "${2:-}" ] || die "usage: $0 stop-node I"; stop_node "$2" ;;
env) print_env ;;
peers) builder_peers ;;
demo) cmd_demo ;;
start-builder) [ -n "${2:-}" ] || die "usage: $0 start-builder J"; start_builder "$2" ;;
stop-builder) [ -n "${2:-}" ] || die "usage: $0 stop-builder J"; stop_builder "$2" ;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
