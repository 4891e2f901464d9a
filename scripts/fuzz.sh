#!/usr/bin/env bash
# Runs every Go fuzz target of the repository (or of FUZZ_PKGS) for FUZZTIME each, one after another,
# and prints per target the executions, the new interesting inputs and whether it found a failure. A
# failing input is written to the package's testdata/fuzz/<Target>/, where it stays as a regression
# test that every `go test` runs: commit it with the fix.
#
#   FUZZTIME       per target (default 60s; any -fuzztime value, e.g. 10000x)
#   FUZZ_PKGS      package patterns (default: every package with a Fuzz function)
#   FUZZ_PARALLEL  fuzz workers per target (default 1: the machine is shared)
#   FUZZ_MINIMIZE  -fuzzminimizetime (default 60s, go's); 0 turns minimizing off (make test-fuzz)
#   FUZZ_INSTRUMENT  all (default, as go test -fuzz: every package the test imports gets coverage
#                  instrumentation) or module (only this module's packages; make test-fuzz)
#   FUZZ_DIR       where the instrumented test binaries go (default build/fuzz)
#   FUZZ_TIMEOUT   per target, a stuck run fails (default 30m)
#   FUZZ_CORPUS    keep (default): the inputs found are kept where go test -fuzz keeps them
#                  ($GOCACHE/fuzz) and each run starts from all of them; fresh: from the seeds
#                  and testdata only (make test-fuzz: every run of a target first runs its whole
#                  corpus, so a kept corpus makes each run cost more than the last)
#
# Cost, and why it is done this way (docs/reliability.md §Fuzzing has the figures):
#   - `go test -fuzz` compiles every package the test imports, the standard library included, with
#     coverage instrumentation (-d=libfuzzer): a second build of the whole dependency graph (for
#     x/msgfuzz the Cosmos SDK), minutes the first time, then cached in GOCACHE like any build.
#     FUZZ_INSTRUMENT=module instead builds the test binary with -gcflags=<module>/...=-d=libfuzzer:
#     only this module's packages are instrumented (coverage guides the fuzzer through our code,
#     not through the SDK's or the standard library's), the rest is the plain build go test
#     already cached, and an input runs uninstrumented dependencies (FuzzMsgs: 25794 execs in 10 s
#     against 578 in 20 s with everything instrumented).
#   - It links a test binary per run and takes one target per run: here each package's
#     instrumented binary (go test -c -fuzz=.) is linked once and run once per target.
#   - Every new interesting input is minimized for up to -fuzzminimizetime (60s by default), and
#     the executions of minimizing are not counted: a short run spends most of its time there and
#     reports a handful of executions (FuzzRecord: "execs: 4" after 6 s, then 39116 at 9 s).
#     FUZZ_MINIMIZE=0 spends all of FUZZTIME fuzzing; a failing input is then kept unminimized.
set -euo pipefail

fuzztime=${FUZZTIME:-60s}
parallel=${FUZZ_PARALLEL:-1}
minimize=${FUZZ_MINIMIZE:-60s}
instrument=${FUZZ_INSTRUMENT:-all}
dir=${FUZZ_DIR:-build/fuzz}
timeout=${FUZZ_TIMEOUT:-30m}
go=${GO:-go}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case ${FUZZ_CORPUS:-keep} in
keep) cache="$($go env GOCACHE)/fuzz" ;; # where go test -fuzz keeps each package's generated corpus
fresh)
	cache=$(mktemp -d)
	trap 'rm -rf "$cache"' EXIT
	;;
*)
	echo "fuzz: FUZZ_CORPUS=${FUZZ_CORPUS}: want keep or fresh" >&2
	exit 2
	;;
esac
case $instrument in
all) build=(-fuzz=.) ;;
module) build=("-gcflags=$($go list -m)/...=-d=libfuzzer") ;;
*)
	echo "fuzz: FUZZ_INSTRUMENT=$instrument: want all or module" >&2
	exit 2
	;;
esac

if [ -n "${FUZZ_PKGS:-}" ]; then
	# shellcheck disable=SC2086
	mapfile -t pkgs < <($go list $FUZZ_PKGS)
else
	mapfile -t pkgs < <(git grep -l '^func Fuzz[A-Z].*testing\.F' -- '*_test.go' | xargs -n1 dirname | sort -u | sed 's#^#./#' | xargs $go list)
fi

summary=()
failed=0
total=$SECONDS
for ip in "${pkgs[@]}"; do
	pdir=$($go list -f '{{.Dir}}' "$ip")
	bin="$dir/${ip//\//_}.fuzz.test"
	start=$SECONDS
	if ! $go test -c "${build[@]}" -o "$bin" "$ip"; then
		summary+=("$(printf '%-48s %-14s %-11s' "$ip" "(build)" FAILED)")
		failed=$((failed + 1))
		continue
	fi
	echo "== $ip: instrumented test binary in $((SECONDS - start))s" >&2
	mapfile -t targets < <(cd "$pdir" && "$bin" -test.list '^Fuzz' | grep '^Fuzz' || true)
	for t in "${targets[@]}"; do
		echo "== $ip $t ($fuzztime)" >&2
		log=$(mktemp)
		start=$SECONDS
		# From the package directory, so a failing input lands in its testdata/fuzz/<Target>/.
		if (cd "$pdir" && "$bin" -test.run='^$' -test.fuzz="^$t\$" -test.fuzztime="$fuzztime" \
			-test.parallel="$parallel" -test.fuzzminimizetime="$minimize" \
			-test.fuzzcachedir="$cache/$ip" -test.timeout="$timeout") >"$log" 2>&1; then
			result=ok
		elif grep -qxE '\s*context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
			# Go's fuzzing coordinator (go1.26) can report its own -fuzztime deadline as the target's
			# failure when a worker is still in a call as the time ends; a finding always writes its
			# input. The target was fuzzed for the whole time and nothing failed.
			result=ok-deadline
		else
			result=FAILED
			failed=$((failed + 1))
			cat "$log" >&2
		fi
		execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | awk '{print $2}')
		news=$(grep -oE 'new interesting: [0-9]+' "$log" | tail -1 | awk '{print $3}')
		summary+=("$(printf '%-48s %-14s %-11s %9s execs %4s new %4ds' "$ip" "$t" "$result" "${execs:-?}" "${news:-?}" $((SECONDS - start)))")
		rm -f "$log"
	done
	rm -f "$bin"
done
echo
echo "fuzz: $fuzztime per target, minimizing $minimize, $parallel worker(s), instrumented: $instrument, corpus: ${FUZZ_CORPUS:-keep}; $((SECONDS - total))s in all"
printf '%s\n' "${summary[@]}"
[ "$failed" -eq 0 ]
