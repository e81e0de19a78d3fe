#!/bin/sh
# Runs the libFuzzer targets of tests/fuzz (built by `make fuzz-build` into
# build/fuzz/fuzz_<target>).
#
#   tests/fuzz/run.sh long SECONDS BUILD TARGET...    what `make fuzz` runs
#   tests/fuzz/run.sh check RUNS BUILD TARGET...      what `make test` runs
#
# long: each target in turn for SECONDS on its seed corpus
# (tests/fuzz/corpus/<target>, read only) and what earlier runs added
# (BUILD/corpus/<target>, where new inputs go); crashes, sanitizer reports,
# hangs and out-of-memory inputs go to BUILD/findings/<target>/. Prints per
# target the executions, executions a second, libFuzzer's final cov: (code
# edges of the instrumented C) and ft: (features, with the Lua lines of
# lua_fuzz.c), the corpus size and the findings; the log is
# BUILD/logs/<target>.log. Exit status 1 when any target found something.
#
# check: each target over its seed corpus, then RUNS mutations with a fixed
# seed (-seed=1) but at most FUZZ_CHECK_SECONDS (default 10) of them, new
# inputs into a temporary folder: one "ok"/"not ok" line a target, then
# "fuzz: N passed, M failed".
#
# The Lua targets run with -detect_leaks=0 (their Lua state lives on, so
# an input's mallocs and frees never balance and LeakSanitizer would scan
# after most of them); every target with OPENBLAS_NUM_THREADS=1 (idle
# OpenBLAS threads spin on sched_yield: 18 times fewer executions).
set -u
export OPENBLAS_NUM_THREADS=1
mode=$1
amount=$2
build=$3
shift 3
root=$(cd "$(dirname "$0")/../.." && pwd)
pass=0
fail=0

# extra_flags TARGET: what a target needs on top
extra_flags() { [ "$1" = safetensors ] || echo -detect_leaks=0; }

# last_stat LOG NAME: the value of libFuzzer's "stat::NAME: V" line
last_stat() { sed -n "s/^stat::$2: *//p" "$1" | tail -n 1; }
# final_field LOG FIELD: FIELD (cov, ft, corp) of the last status line
final_field() { grep -E '^#[0-9]+' "$1" | tail -n 1 | grep -oE "$2: [0-9/a-zA-Z]+" | sed "s/^$2: //"; }

case "$mode" in
long)
    printf '%-12s %12s %8s %7s %7s %7s %s\n' target execs exec/s cov ft corpus findings
    report=""
    for t in "$@"; do
        bin=$build/fuzz_$t
        corpus=$build/corpus/$t
        findings=$build/findings/$t
        log=$build/logs/$t.log
        mkdir -p "$corpus" "$findings" "$build/logs"
        if [ ! -x "$bin" ]; then
            echo "$t: $bin is missing (make fuzz-build)"; fail=$((fail + 1)); continue
        fi
        # the first finding ends the run with its input saved (its stack is
        # in the log)
        # shellcheck disable=SC2046
        "$bin" $(extra_flags "$t") -max_total_time="$amount" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$findings/" "$corpus" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1
        status=$?
        n=$(find "$findings" -type f | wc -l)
        printf '%-12s %12s %8s %7s %7s %7s %s\n' "$t" "$(last_stat "$log" number_of_executed_units)" \
            "$(last_stat "$log" average_exec_per_sec)" "$(final_field "$log" cov)" "$(final_field "$log" ft)" \
            "$(find "$corpus" -type f | wc -l)" "$n"
        if [ "$n" -gt 0 ] || [ "$status" -ne 0 ]; then
            fail=$((fail + 1))
            report="$report $t"
        fi
    done
    if [ -n "$report" ]; then
        echo "findings in:$report (inputs in $build/findings/<target>/, stacks in $build/logs/<target>.log)"
        exit 1
    fi
    ;;
check)
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-fuzz.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    for t in "$@"; do
        bin=$build/fuzz_$t
        seeds=$root/tests/fuzz/corpus/$t
        if [ ! -x "$bin" ]; then
            echo "not ok - fuzz target $t: $bin is missing (make fuzz-build)"; fail=$((fail + 1)); continue
        fi
        mkdir -p "$tmp/$t" "$tmp/findings-$t"
        n=$(find "$seeds" -type f | wc -l)
        # shellcheck disable=SC2046
        "$bin" $(extra_flags "$t") -runs="$amount" -max_total_time="${FUZZ_CHECK_SECONDS:-10}" -seed=1 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$tmp/findings-$t/" "$tmp/$t" "$seeds" >"$tmp/$t.log" 2>&1
        status=$?
        found=$(find "$tmp/findings-$t" -type f | wc -l)
        if [ "$status" -eq 0 ] && [ "$found" -eq 0 ] && [ "$n" -gt 0 ]; then
            echo "ok - fuzz target $t: $n seed inputs, $(last_stat "$tmp/$t.log" number_of_executed_units) runs, no finding" \
                "(cov $(final_field "$tmp/$t.log" cov), ft $(final_field "$tmp/$t.log" ft))"
            pass=$((pass + 1))
        else
            echo "not ok - fuzz target $t: $n seed inputs and $amount mutations: status $status, $found findings"
            grep -E 'ERROR|FUZZ-FINDING|SUMMARY|^ *#[0-9]+ 0x|Test unit written' "$tmp/$t.log" | head -n 40
            for f in "$tmp/findings-$t"/*; do
                [ -f "$f" ] && echo "  input ($f): $(head -c 300 "$f" | od -c | head -n 8)"
            done
            fail=$((fail + 1))
        fi
    done
    echo "fuzz: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    ;;
*)
    echo "usage: tests/fuzz/run.sh long|check AMOUNT BUILD TARGET..." >&2
    exit 2
    ;;
esac
