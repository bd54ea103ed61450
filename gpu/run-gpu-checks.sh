#!/usr/bin/env bash
# The GPU checks in one go, for a machine with a CUDA device (run from the repository root):
# configure and build tst_backends and bench_gpu, run the tests, run them under compute-sanitizer
# (memcheck, and racecheck on the kernels with shared memory), run the benchmarks at 32x1024x1024
# and 32x4096x4096. Logs go to $OUT (default ./gpu-check-logs): summary.txt, build.log,
# tst_backends.txt, sanitizer.txt, bench_gpu.txt, bench_gpu.json. Exits non-zero if a step failed.
set -u
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/gpu-check-logs}
build=${BUILD_DIR:-build-gpu-checks}
mkdir -p "$out"
summary=$out/summary.txt
: >"$summary"
failed=0
note() { echo "$*" | tee -a "$summary"; }
step() { # NAME TIMEOUT_S LOG COMMAND...: runs COMMAND, appends its output to LOG, notes the status
    local name=$1 limit=$2 log=$3
    shift 3
    local start=$SECONDS
    echo "== $name: $*" >>"$log"
    timeout "$limit" "$@" >>"$log" 2>&1
    local rc=$?
    note "$name: $([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in $((SECONDS - start)) s"
    [ $rc -eq 0 ] || failed=1
    return $rc
}

note "host: $(hostname), $(nproc) cores"
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader \
    >>"$summary" 2>/dev/null || note "nvidia-smi: not found or failed"
note "nvcc: $(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || echo missing)"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if ! step configure 300 "$out/build.log" cmake -S . -B "$build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DATTNSTEER_BUILD_APP=OFF -DATTNSTEER_WITH_CUDA=ON \
    -DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"; then
    if grep -q "Qt6\|QCustomPlot" "$out/build.log"; then
        note "configure failed: Qt6 development packages (qt6-base-dev: Qt Core and Qt Test)" \
            "are missing here; the tests are Qt Test suites and cannot be built without them"
    fi
    grep -m3 "CMake Error\|Could not find" "$out/build.log" >>"$summary"
    exit 1
fi
grep -q "backend built: ON" "$out/build.log" ||
    { note "configure: CMake found no CUDA compiler; the CUDA backend is not built"; exit 1; }
step build 900 "$out/build.log" cmake --build "$build" -j"$(nproc)" \
    --target tst_backends bench_gpu || exit 1

tests=$build/tests/tst_backends
bench=$build/tests/bench/bench_gpu
step tst_backends 600 "$out/tst_backends.txt" "$tests"
grep -E "^Totals|^FAIL" "$out/tst_backends.txt" >>"$summary"
if grep -q "no CUDA device" "$out/tst_backends.txt"; then
    note "tst_backends: the CUDA rows were skipped: $(grep -m1 -o 'no CUDA device.*' \
        "$out/tst_backends.txt")"
    failed=1
fi

sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -n "$sanitizer" ]; then
    # API errors are not reported: outOfMemoryIsAnInputError fails a cudaMalloc on purpose.
    step memcheck 600 "$out/sanitizer.txt" "$sanitizer" --tool memcheck --leak-check full \
        --report-api-errors no --error-exitcode 99 "$tests"
    step racecheck 300 "$out/sanitizer.txt" "$sanitizer" --tool racecheck --error-exitcode 99 \
        "$tests" "matchesReference:cuda: random 3x50x300" \
        "matchesReference:cuda: causal attention 2x40 eps=0"
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$out/sanitizer.txt" >>"$summary"
else
    note "compute-sanitizer: not found; memcheck skipped"
    failed=1
fi

step bench_gpu 600 "$out/bench_gpu.txt" "$bench" --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true --benchmark_out="$out/bench_gpu.json" \
    --benchmark_out_format=json
grep -E "median|bench_gpu:" "$out/bench_gpu.txt" >>"$summary"

note "result: $([ $failed -eq 0 ] && echo 'all steps passed' || echo 'some steps FAILED')"
exit $failed
