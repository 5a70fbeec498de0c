#!/usr/bin/env bash
# Runs wsgate's libFuzzer targets through cargo-fuzz; called by `make fuzz` and
# `make fuzz-smoke` from the repository root.
#
#   plugin/fuzz/run.sh long    every target until FUZZ_RUNS executions or FUZZ_SECONDS
#   plugin/fuzz/run.sh smoke   every target for FUZZ_SMOKE_SECONDS on the committed seeds
#
# Environment (all optional):
#   FUZZ_TARGETS        targets to run (default: every target `cargo fuzz list` names)
#   FUZZ_SECONDS        long: time limit per target (default 600)
#   FUZZ_RUNS           long: execution limit per target (default 10000000)
#   FUZZ_SMOKE_SECONDS  smoke: time per target (default 10)
#   FUZZ_SANITIZER      none (default) or address. wsgate-core has no `unsafe`, the
#                       targets' checks are panics, and ASan costs 3-6x the executions;
#                       address needs the toolchain's ASan runtime (rustup ships it).
#   FUZZ_ARGS           more libFuzzer flags, e.g. "-jobs=2 -workers=2"
#
# Stable Rust is enough: RUSTC_BOOTSTRAP=1 lets it take cargo-fuzz's -Z flags.
# Everything it writes is under target/: the build (target/fuzz-build), the growing
# corpus (target/fuzz/corpus/<target>; the committed seeds in plugin/fuzz/corpus are
# only read), crash artefacts (target/fuzz/artifacts/<target>), logs and the summary
# (target/fuzz/summary.txt, summary.json). Exit status 1 when any target crashed.
set -euo pipefail

mode=${1:-}
case "$mode" in
    long | smoke) ;;
    *) echo "usage: $0 long|smoke" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
fuzz_dir="$root/plugin/fuzz"
out="$root/target/fuzz"
build_dir="$root/target/fuzz-build"
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

# --- what it needs -----------------------------------------------------------------
if ! command -v c++ >/dev/null; then
    echo "fuzz: installing g++ (libfuzzer-sys compiles libFuzzer)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq g++ >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz from crates.io (cargo install cargo-fuzz --locked, about two minutes)"
    cargo install -q cargo-fuzz --locked
fi
FUZZ_SANITIZER=${FUZZ_SANITIZER:-none}
if [ "$FUZZ_SANITIZER" = address ]; then
    host=$(rustc -vV | sed -n 's/^host: //p')
    if ! ls "$(rustc --print sysroot)/lib/rustlib/$host/lib/"librustc-*_rt.asan.a >/dev/null 2>&1; then
        echo "fuzz: this toolchain has no ASan runtime ($(rustc --print sysroot)); use FUZZ_SANITIZER=none" >&2
        exit 2
    fi
fi
fuzz=(cargo fuzz)
build_flags=(--fuzz-dir "$fuzz_dir" --target-dir "$build_dir" --sanitizer "$FUZZ_SANITIZER")

targets=${FUZZ_TARGETS:-$(cd "$fuzz_dir" && "${fuzz[@]}" list --fuzz-dir "$fuzz_dir")}
echo "fuzz: $(cargo fuzz --version), $(rustc --version), sanitizer $FUZZ_SANITIZER"
echo "fuzz: building $(echo $targets | tr '\n' ' ')(debug assertions on, build in ${build_dir#$root/})"
(cd "$fuzz_dir" && "${fuzz[@]}" build "${build_flags[@]}")

# --- runs --------------------------------------------------------------------------
if [ "$mode" = long ]; then
    seconds=${FUZZ_SECONDS:-600}
    limits=(-max_total_time="$seconds" -runs="${FUZZ_RUNS:-10000000}")
    echo "fuzz: each target until ${FUZZ_RUNS:-10000000} executions or ${seconds}s"
else
    seconds=${FUZZ_SMOKE_SECONDS:-10}
    limits=(-max_total_time="$seconds")
    echo "fuzz: smoke, each target for ${seconds}s on the committed seeds"
fi
mkdir -p "$out/logs"
summary_txt="$out/summary-$mode.txt"
summary_json="$out/summary-$mode.json"
printf '%-22s %12s %10s %8s %8s  %s\n' target executions exec/s seconds crashes artefact >"$summary_txt"
json_rows=()
failed=0
for target in $targets; do
    if [ "$mode" = long ]; then
        corpus="$out/corpus/$target"
    else
        corpus="$out/smoke-corpus/$target"
        rm -rf "$corpus"
    fi
    artifacts="$out/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    log="$out/logs/$target-$mode.log"
    seeds="$fuzz_dir/corpus/$target"
    mkdir -p "$seeds"
    dict=()
    [ -f "$fuzz_dir/dict/$target.dict" ] && dict=(-dict="$fuzz_dir/dict/$target.dict")
    before=$(ls "$artifacts" | wc -l)
    started=$(date +%s)
    status=0
    # The first corpus directory takes new inputs; the committed seeds are only read.
    (cd "$fuzz_dir" && "${fuzz[@]}" run "${build_flags[@]}" "$target" "$corpus" "$seeds" -- \
        "${limits[@]}" -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_ARGS:-}) \
        >"$log" 2>&1 || status=$?
    elapsed=$(( $(date +%s) - started ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{s += $1} END {print s + 0}')
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | awk '{s += $1} END {print s + 0}')
    new_artifacts=$(ls -t "$artifacts" | head -n $(( $(ls "$artifacts" | wc -l) - before )))
    crashes=$(echo -n "$new_artifacts" | grep -c . || true)
    if [ "$status" != 0 ] && [ "$crashes" = 0 ]; then
        crashes=1 # it failed without leaving an input: the log says why
    fi
    first=$(echo "$new_artifacts" | head -n1)
    artefact=${first:+${artifacts#$root/}/$first}
    printf '%-22s %12s %10s %8s %8s  %s\n' "$target" "$execs" "$rate" "$elapsed" "$crashes" "${artefact:--}" | tee -a "$summary_txt"
    json_rows+=("$(printf '{"target":"%s","executions":%s,"exec_per_sec":%s,"seconds":%s,"crashes":%s,"exit_status":%s,"artefact":"%s","log":"%s"}' \
        "$target" "$execs" "$rate" "$elapsed" "$crashes" "$status" "$artefact" "${log#$root/}")")
    if [ "$crashes" != 0 ]; then
        failed=1
        echo "fuzz: $target FAILED (log ${log#$root/}):"
        grep -E -m6 -A1 "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log" | sed 's/^/    /' || true
        if [ -n "$artefact" ]; then
            echo "    reproduce: cd plugin/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir . --sanitizer $FUZZ_SANITIZER --target-dir ../../target/fuzz-build $target ../../$artefact"
        fi
    fi
done
(IFS=,; echo "{\"mode\":\"$mode\",\"sanitizer\":\"$FUZZ_SANITIZER\",\"targets\":[${json_rows[*]}]}") >"$summary_json"
cp "$summary_txt" "$out/summary.txt"
cp "$summary_json" "$out/summary.json"
echo "fuzz: summary in ${summary_txt#$root/} and ${summary_json#$root/}"
exit $failed
