#!/usr/bin/env bash
# Runs every Go fuzz target of the repository (or of FUZZ_PKGS) for FUZZTIME each, one after another
# (go test accepts one -fuzz target per run), and prints per target the executions and whether it
# found a failure. A failing input is written by go test to the package's testdata/fuzz/<Target>/,
# where it stays as a regression test that every `go test` runs: commit it with the fix.
#
#   FUZZTIME       per target (default 60s; any -fuzztime value, e.g. 10000x)
#   FUZZ_PKGS      package patterns (default: every package with a Fuzz function)
#   FUZZ_PARALLEL  fuzz workers per target (default 1: the machine is shared)
set -euo pipefail

fuzztime=${FUZZTIME:-60s}
parallel=${FUZZ_PARALLEL:-1}
go=${GO:-go}
if [ -n "${FUZZ_PKGS:-}" ]; then
	# shellcheck disable=SC2086
	mapfile -t pkgs < <($go list $FUZZ_PKGS)
else
	mapfile -t pkgs < <(git grep -l '^func Fuzz[A-Z].*testing\.F' -- '*_test.go' | xargs -n1 dirname | sort -u | sed 's#^#./#' | xargs $go list)
fi

summary=()
failed=0
for p in "${pkgs[@]}"; do
	mapfile -t targets < <($go test -list '^Fuzz' "$p" | grep '^Fuzz' || true)
	for t in "${targets[@]}"; do
		echo "== $p $t ($fuzztime)" >&2
		log=$(mktemp)
		start=$SECONDS
		if $go test "$p" -run '^$' -fuzz "^$t\$" -fuzztime "$fuzztime" -parallel "$parallel" >"$log" 2>&1; then
			result=ok
		else
			result=FAILED
			failed=$((failed + 1))
			cat "$log" >&2
		fi
		execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | awk '{print $2}')
		summary+=("$(printf '%-50s %-22s %-6s %10s execs %4ds' "$p" "$t" "$result" "${execs:-?}" $((SECONDS - start)))")
		rm -f "$log"
	done
done
echo
echo "fuzz: $fuzztime per target"
printf '%s\n' "${summary[@]}"
[ "$failed" -eq 0 ]
