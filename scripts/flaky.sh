#!/usr/bin/env bash
# Runs the tests of some packages many times and prints, per package, how many runs failed and
# which tests failed how often: a test that fails by chance blocks every change from landing.
#
#   FLAKY_RUNS   runs per package (default 10)
#   FLAKY_PKGS   package patterns (default: the network and timing heavy ones)
#   FLAKY_RUN    -run pattern (default: every test)
#   FLAKY_DIR    where test binaries and the logs of failed runs go (default build/flaky)
#   FLAKY_TIMEOUT  per run (default 20m)
#
# Each package's test binary is built once and run FLAKY_RUNS times as a fresh process, one run
# after another (packages too), so runs do not compete for the CPU with each other. Exits 1 if any
# run failed; the log of each failed run is kept as $FLAKY_DIR/<pkg>.<run>.log.
set -euo pipefail

runs=${FLAKY_RUNS:-10}
pkgs=${FLAKY_PKGS:-./node/p2p ./node/sidecar/... ./tests/e2e/...}
pattern=${FLAKY_RUN:-.}
dir=${FLAKY_DIR:-build/flaky}
timeout=${FLAKY_TIMEOUT:-20m}
go=${GO:-go}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# One line per package with tests: import path and directory.
# shellcheck disable=SC2086 # pkgs is a list of patterns
mapfile -t list < <($go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' $pkgs)
if [ "${#list[@]}" -eq 0 ]; then
	echo "flaky: no test packages in: $pkgs" >&2
	exit 1
fi

summary=()
total_failed=0
for line in "${list[@]}"; do
	ip=${line%% *}
	pdir=${line#* }
	name=${ip//\//_}
	bin="$dir/$name.test"
	$go test -c -o "$bin" "$ip"
	failed=0
	declare -A tests=()
	start=$SECONDS
	for ((i = 1; i <= runs; i++)); do
		log="$dir/$name.$i.log"
		if (cd "$pdir" && "$bin" -test.count=1 -test.timeout="$timeout" -test.run="$pattern") >"$log" 2>&1; then
			rm -f "$log"
			echo "flaky: $ip run $i ok" >&2
		else
			failed=$((failed + 1))
			n=0
			while read -r t; do
				tests[$t]=$((${tests[$t]:-0} + 1))
				n=$((n + 1))
			done < <(grep -oE '^\s*--- FAIL: \S+' "$log" | awk '{print $3}')
			# A crash or timeout names no test.
			if [ "$n" -eq 0 ]; then tests["(no --- FAIL line: panic or timeout)"]=$((${tests["(no --- FAIL line: panic or timeout)"]:-0} + 1)); fi
			echo "flaky: $ip run $i failed (log: $log)" >&2
		fi
	done
	total_failed=$((total_failed + failed))
	s=$(printf '%-55s %3d failed of %3d runs (%ds)' "$ip" "$failed" "$runs" $((SECONDS - start)))
	for t in "${!tests[@]}"; do
		s+=$'\n'"$(printf '    %-51s %3d' "$t" "${tests[$t]}")"
	done
	summary+=("$s")
	unset tests
	rm -f "$bin"
done

echo
echo "flaky: $runs runs per package (pattern $pattern)"
printf '%s\n' "${summary[@]}"
[ "$total_failed" -eq 0 ]
