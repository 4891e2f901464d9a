#!/usr/bin/env bash
# Prints lock file lines ("name version arch size sha256") for Debian packages, taken from
# apt's package index (the candidate version of each), for toolchains/debian.lock.
# Usage: scripts/debian-lock.sh PACKAGE... >> toolchains/debian.lock (then sort the lines).
# Nothing is downloaded; `apt-get update` must have been run.
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
arch="$(dpkg --print-architecture)"
for p in "$@"; do
	apt-cache show --no-all-versions "$p:$arch" | awk -v want="$p" '
		/^Package:/ {name=$2} /^Version:/ {ver=$2} /^Architecture:/ {arch=$2}
		/^Size:/ {size=$2} /^SHA256:/ {sha=$2}
		END { if (name != want || sha == "") { print "no index entry for " want > "/dev/stderr"; exit 1 }
		      print name, ver, arch, size, sha }'
done | sort
