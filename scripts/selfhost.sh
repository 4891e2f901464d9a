#!/usr/bin/env bash
# selfhost.sh (`make selfhost`; not part of `make test`): buildchain builds and verifies itself.
#   1. the source of HEAD (git archive) is vendored (`go mod vendor`, now: the vendor tree is
#      not committed) and added to the store;
#   2. the go toolchain is imported (`bootstrap --toolchain go`) and examples/selfhost/
#      buildchaind.json builds ./cmd/buildchaind with it in the sandbox; each builder's operator
#      imports the toolchain too (as operators do once), meanwhile;
#   3. the derivation is published on a local network whose claims need three agreeing
#      builders (min_rounds=3, p_continue=0) and waits until it is VALID (the builders fetch
#      the vendored source, ~170 MB, from the publisher, and build it cold: report deadline
#      and fetch timeout are raised to fit a busy machine, and so is the per-build wall-clock
#      limit, one hour by default (builder.DefaultTimeout), of the publisher's `build --timeout`
#      and of every builder's `node run --build-timeout`: three cold builds of buildchaind at once
#      on two cores take longer than that);
#   4. the verified binary's sha256 is compared with a plain `go build -trimpath` of the same
#      tree on the host with the same toolchain (the store's copy, CGO_ENABLED=0 as in the
#      derivation; the go command uses the vendor tree by itself).
# It prints the time each part took. A network is started in SELFHOST_DIR (default
# .localnet-selfhost, ports LOCALNET_PORT_BASE, default 26600) unless one runs there already.
# SELFHOST_TIMEOUT (default 3h) bounds each build, each fetch and the wait for the verdict.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
export LOCALNET_DIR="${SELFHOST_DIR:-$root/.localnet-selfhost}"
export LOCALNET_BUILDERS=3
export LOCALNET_GENESIS_JQ='.app_state.claims.params.min_rounds = 3 | .app_state.claims.params.p_continue = "0.000000000000000000" | .app_state.claims.params.report_timeout_blocks = "14400"'
timeout="${SELFHOST_TIMEOUT:-3h}"
export LOCALNET_SIDECAR_FLAGS="--fetch-timeout $timeout --build-timeout $timeout"
BIN="${BUILDCHAIND:-$root/build/buildchaind}"
export BUILDCHAIND="$BIN"
t0=$(date +%s)
lap() { echo "selfhost: $1 ($(($(date +%s) - t0)) s so far)"; }

[ -x "$BIN" ] || make -C "$root" build
# status into a variable first: with pipefail, grep -q closing the pipe early makes status die of
# SIGPIPE and the pipeline fail, so a running network looked absent and start refused it.
status="$("$root/scripts/localnet.sh" status 2>/dev/null || true)"
if ! grep -q running <<<"$status"; then
	"$root/scripts/localnet.sh" start 4
fi
lap "network up"

work="$(mktemp -d "${TMPDIR:-/tmp}/selfhost.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
commit="$(git -C "$root" rev-parse HEAD)"
mkdir -p "$work/src"
git -C "$root" archive --format=tar "$commit" | tar -x -C "$work/src"
(cd "$work/src" && go mod vendor)
lap "source of $commit vendored"

export BUILDCHAIN_HOME="$LOCALNET_DIR/user"
mkdir -p "$BUILDCHAIN_HOME"
"$BIN" bootstrap >/dev/null
tc="$("$BIN" bootstrap --toolchain go)"
src="$("$BIN" store add -q "$work/src")"
drv="$("$BIN" drv add --set src="$src" "$root/examples/selfhost/buildchaind.json")"
lap "go toolchain $tc, source $src, derivation $drv"

pids=()
for b in "$LOCALNET_DIR"/builder[0-9]; do
	[ -d "$b" ] || continue
	BUILDCHAIN_HOME="$b" "$BIN" bootstrap --toolchain go >"$b.selfhost-toolchain" 2>"$b.selfhost-toolchain.log" &
	pids+=("$!")
done
"$BIN" build -q --no-substitute --timeout "$timeout" "$drv"
lap "built by the publisher"
for p in "${pids[@]}"; do
	wait "$p" || { echo "selfhost: a builder's toolchain import failed (see $LOCALNET_DIR/builder*.selfhost-toolchain.log)" >&2; exit 1; }
done
for b in "$LOCALNET_DIR"/builder[0-9]; do
	[ "$(cat "$b.selfhost-toolchain")" = "$tc" ] || { echo "selfhost: $b imported another toolchain CID" >&2; exit 1; }
done
lap "every builder has the go toolchain $tc"

peers="$("$root/scripts/localnet.sh" peers)"
"$BIN" publish "$drv" --from val0 --home "$LOCALNET_DIR/node0" --keyring-backend test --keyring-dir "$LOCALNET_DIR/node0" --peer "$peers" \
	--wait-timeout "$timeout" --build-timeout "$timeout" -y
verdict="$("$BIN" verify "$drv" --home "$LOCALNET_DIR/node0" --no-fetch)"
echo "$verdict"
grep -q '^VALID' <<<"$verdict" || { echo "selfhost: not VALID" >&2; exit 1; }
out="$(sed -n 's/.* builds to \([a-z0-9]*\).*/\1/p' <<<"$verdict" | head -1)"
lap "VALID: $out"

"$BIN" store get "$tc" "$work/go"
(cd "$work/src" && env -i PATH="$work/go/bin:/usr/bin:/bin" HOME="$work" GOCACHE="$work/gocache" GOPATH="$work/gopath" \
	GOTOOLCHAIN=local GOPROXY=off GOENV=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
	"$work/go/bin/go" build -trimpath -o "$work/plain" ./cmd/buildchaind)
want="$(sha256sum <"$work/plain" | cut -d' ' -f1)"
got="$("$BIN" store cat "$out/bin/buildchaind" | sha256sum | cut -d' ' -f1)"
lap "plain go build -trimpath: $want"
echo "selfhost: verified binary sha256 $got"
[ "$want" = "$got" ] || { echo "selfhost: MISMATCH: the verified binary differs from the plain build" >&2; exit 1; }
echo "selfhost: identical; total $(($(date +%s) - t0)) s"
