#!/usr/bin/env bash
# Installs, idempotently, what the build and the tests need on a fresh Debian machine.
# CI runs on a clean checkout: nothing may be installed by hand.
set -euo pipefail

# Debian packages: fuse3 gives fusermount3 for the FUSE store; busybox-static is the
# bootstrap toolchain imported into the store for hermetic builds; jq and curl are used by
# scripts/localnet.sh (genesis edits, node status); nix-bin (Nix 2.8) is the real Nix client of
# the binary-cache test (node/nix, tests/e2e); iptables (its legacy backend) gives the
# perturbation tests (tests/chaos) packet loss and an NFQUEUE to delay packets, as this kind of
# kernel may have no sch_netem.
apt_pkgs=(fuse3 busybox-static jq curl nix-bin iptables)
# Debian's cargo (1.65) plans `buildchaind cargo build` (--build-plan); the librust-*-dev crates
# (/usr/share/cargo/registry) are the registry of examples/rust-cli.
apt_pkgs+=(cargo librust-serde-dev librust-serde-derive-dev librust-serde-json-dev)
# node and npm run the CosmJS client test (tests/clients): Debian's, unless a node with its npm
# (e.g. nodesource's nodejs package) is installed already.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	apt_pkgs+=(nodejs npm)
fi

missing=()
for p in "${apt_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		# The absolute path, so the printed command works from any directory.
		self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
		echo "deps: missing Debian packages: ${missing[*]}" >&2
		echo "deps: installing them needs root; run this command, then run make again:" >&2
		echo "  sudo $self" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Go toolchain module that `buildchaind bootstrap --toolchain go` imports by default (the
# first line of node/toolchain/gotoolchain/go.lock) into the Go module cache, where the importer
# and the tests find it; the go command checks it against sum.golang.org, the importer against go.lock.
go_tc=$(awk '$1 == "golang.org/toolchain" { print $2; exit }' "$(dirname "$0")/../node/toolchain/gotoolchain/go.lock")
if [ -n "$go_tc" ] && ! [ -f "$(go env GOMODCACHE)/cache/download/golang.org/toolchain/@v/$go_tc.zip" ]; then
	echo "deps: go mod download golang.org/toolchain@$go_tc" >&2
	(cd / && GOFLAGS=-mod=mod go mod download golang.org/toolchain@"$go_tc")
fi

# The .debs of the Debian toolchains (`buildchaind bootstrap --toolchain gcc`), pinned in
# node/toolchain/debian/debian.lock, into the cache the importer and the tests read
# ($BUILDCHAIN_DEB_CACHE, else $BUILDCHAIN_HOME/debs, else ~/.buildchain/debs), each checked
# against its sha256 there. patchelf comes from the lock too, never from the host.
deb_cache="${BUILDCHAIN_DEB_CACHE:-${BUILDCHAIN_HOME:-$HOME/.buildchain}/debs}"
mkdir -p "$deb_cache"
apt_updated=
while read -r name version arch size sha; do
	case "$name" in ''|'#'*) continue ;; esac
	file="${name}_${version//:/%3a}_${arch}.deb"
	if [ -f "$deb_cache/$file" ] && echo "$sha  $deb_cache/$file" | sha256sum -c --quiet - 2>/dev/null; then
		continue
	fi
	echo "deps: apt-get download $name=$version" >&2
	tmp=$(mktemp -d "$deb_cache/.download-XXXXXX")
	if ! (cd "$tmp" && apt-get download -qq "$name:$arch=$version" 2>/dev/null); then
		if [ -z "$apt_updated" ] && [ "$(id -u)" -eq 0 ]; then
			apt-get update -qq
			apt_updated=1
		fi
		(cd "$tmp" && apt-get download -qq "$name:$arch=$version")
	fi
	if ! echo "$sha  $tmp/$file" | sha256sum -c --quiet -; then
		echo "deps: $file does not match node/toolchain/debian/debian.lock" >&2
		rm -rf "$tmp"
		exit 1
	fi
	mv "$tmp/$file" "$deb_cache/$file"
	rm -rf "$tmp"
done < "$(dirname "$0")/../node/toolchain/debian/debian.lock"
