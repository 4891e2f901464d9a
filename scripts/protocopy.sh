#!/usr/bin/env bash
# Copies the third-party .proto files our protos import out of the Go module cache into
# third_party/proto. WHY: the buf schema registry is not reachable from our build machines
# (it is not reachable offline), so buf.yaml has no deps; the exact versions pinned in go.mod are the source of
# truth and the module cache already holds them after `go mod download`.
# The result is regenerated on every `make proto-gen` and is not committed (see .gitignore).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="third_party/proto"

modver() { go list -m -f '{{.Version}}' "$1"; }
moddir() {
	# go mod download prints the directory of the module in the cache (downloading it if missing).
	go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

sdk_dir="$(moddir github.com/cosmos/cosmos-sdk "$(modver github.com/cosmos/cosmos-sdk)")"
gogo_dir="$(moddir github.com/cosmos/gogoproto "$(modver github.com/cosmos/gogoproto)")"
cproto_dir="$(moddir github.com/cosmos/cosmos-proto "$(modver github.com/cosmos/cosmos-proto)")"
# grpc-gateway v1 is the generator our gateway code comes from; its googleapis copy is the
# google/api/annotations.proto it understands.
gw_dir="$(moddir github.com/grpc-ecosystem/grpc-gateway v1.16.0)"

for d in "$sdk_dir" "$gogo_dir" "$cproto_dir" "$gw_dir"; do
	[ -d "$d" ] || { echo "protocopy: module directory not found: '$d'" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out/gogoproto" "$out/cosmos_proto" "$out/google/api"
cp -r "$sdk_dir/proto/cosmos" "$sdk_dir/proto/amino" "$sdk_dir/proto/tendermint" "$out/"
cp "$gogo_dir/gogoproto/gogo.proto" "$out/gogoproto/"
cp "$cproto_dir/proto/cosmos_proto/cosmos.proto" "$out/cosmos_proto/"
cp "$gw_dir/third_party/googleapis/google/api/annotations.proto" \
	"$gw_dir/third_party/googleapis/google/api/http.proto" \
	"$gw_dir/third_party/googleapis/google/api/httpbody.proto" "$out/google/api/"
# Files from the module cache are read-only; make the copy writable so the next run can delete it.
chmod -R u+w "$out"
echo "protocopy: wrote $out"
