#!/usr/bin/env bash
# The GPU checks in one go, for a machine with a CUDA device (run from the repository root): run
# tst_backends and tst_attention, bench_gpu at 32x1024x1024 and 32x4096x4096 (and the fused
# attention at 28 heads x 2048 and 8192 tokens), then the tests under compute-sanitizer
# (memcheck, and racecheck on the kernels with shared memory). Logs go to $OUT (default
# ./gpu-check-logs), six files at most: summary.txt, build.log, tst_backends.txt, bench_gpu.txt,
# bench_gpu.json, sanitizer.txt. Exits non-zero if a step failed or a CUDA row was skipped.
#
# Two modes:
# - bundle (for the device machine, which has CUDA but no Qt6, Eigen, Random123 or Google
#   Benchmark): .gpu-bundle/bundle.tar.xz, made on the development machine by
#   `bash gpu/make-device-bundle`, holds tst_backends, bench_gpu and the shared libraries they need
#   but glibc and the NVIDIA driver. It is unpacked into $BUILD_DIR/bundle and run with its lib/
#   first in LD_LIBRARY_PATH. The step "bundle loads" runs tst_backends -functions and
#   bench_gpu --benchmark_list_tests; if the bundle cannot load (a library missing, glibc too old)
#   the summary gives the loader's message and the checks fall back to building. A bundle built
#   from other sources than this tree's core/, gpu/, tests/ and CMakeLists.txt still runs, but is
#   reported as STALE and fails the checks.
# - build (no bundle, or one that cannot load; needs Qt6 Core and Test, Eigen, Random123, Google
#   Benchmark): configure and build tst_backends and bench_gpu in $BUILD_DIR (build-gpu-checks).
#
# On the device machine (the `run` tool): first, on the development machine,
# `bash gpu/make-device-bundle` (again after any change to core/, gpu/ or tests/), then
#   run(carry=[".gpu-bundle"], command="bash gpu/run-gpu-checks.sh", timeout_s=540)
# The steps share a time budget of CHECK_BUDGET_S seconds (default 510, under that timeout; 0: no
# budget): each step's limit is cut to what is left, and a step with under 15 s left is skipped,
# so summary.txt is complete when the call ends. GPU_BUNDLE names another tarball (or none).
set -u
cd "$(dirname "$0")/.." || exit 1
out=${OUT:-$PWD/gpu-check-logs}
build=${BUILD_DIR:-build-gpu-checks}
bundle=${GPU_BUNDLE-.gpu-bundle/bundle.tar.xz}
budget=${CHECK_BUDGET_S:-510}
mkdir -p "$out"
summary=$out/summary.txt
: >"$summary"
failed=0
note() { echo "$*" | tee -a "$summary"; }
finish() {
    note "result: $([ $failed -eq 0 ] && echo 'all steps passed' || echo 'some steps FAILED')"
    exit $failed
}
step() { # NAME TIMEOUT_S LOG COMMAND...: runs COMMAND, appends its output to LOG, notes the status
    local name=$1 limit=$2 log=$3
    shift 3
    if [ "$budget" -gt 0 ]; then
        local left=$((budget - SECONDS))
        if [ $left -lt 15 ]; then
            note "$name: SKIPPED: $left s left of the time budget (CHECK_BUDGET_S=$budget)"
            failed=1
            return 124
        fi
        [ "$limit" -le $left ] || limit=$left
    fi
    local start=$SECONDS
    echo "== $name: $*" >>"$log"
    timeout -k 10 "$limit" "$@" >>"$log" 2>&1
    local rc=$?
    local status=ok
    [ $rc -eq 0 ] || status="FAILED (exit $rc)"
    [ $rc -ne 124 ] || status="FAILED (timed out after $limit s)"
    note "$name: $status in $((SECONDS - start)) s"
    [ $rc -eq 0 ] || failed=1
    return $rc
}
# The sources the executables are built from, as gpu/make-device-bundle counts them.
fingerprint() {
    if git rev-parse --git-dir >/dev/null 2>&1; then
        git ls-files -co --exclude-standard -- CMakeLists.txt core gpu tests \
            ':!gpu/run-gpu-checks.sh' ':!gpu/make-device-bundle'
    else
        find CMakeLists.txt core gpu tests -type f \
            ! -path gpu/run-gpu-checks.sh ! -path gpu/make-device-bundle
    fi | while read -r f; do if [ -f "$f" ]; then echo "$f"; fi; done | LC_ALL=C sort |
        xargs -d '\n' sha256sum | sha256sum | cut -c1-16
}

note "host: $(hostname), $(nproc) cores, $(getconf GNU_LIBC_VERSION 2>/dev/null)"
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader \
    >>"$summary" 2>/dev/null || note "nvidia-smi: not found or failed"
note "nvcc: $(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || echo missing)"

tests=
bench=
run=() # the prefix for running tests and bench: env LD_LIBRARY_PATH=... with the bundle

# Unpacks the bundle and checks that it loads here; on success sets tests, bench and run.
use_bundle() {
    # Unpacked where a build would run from (never under .gpu-bundle/, which is carried).
    local dir
    if ! rm -rf "$build/bundle" || ! dir=$(mkdir -p "$build/bundle" && cd "$build/bundle" && pwd)
    then
        note "bundle: cannot make $build/bundle"
        return 1
    fi
    local root=$dir/attnsteer-bundle
    echo "== unpack $bundle into $dir" >>"$out/build.log"
    # Without xz here, Python's tarfile reads it.
    tar -xJf "$bundle" -C "$dir" >>"$out/build.log" 2>&1 ||
        python3 -c 'import sys, tarfile
kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
tarfile.open(sys.argv[1]).extractall(sys.argv[2], **kw)' "$bundle" "$dir" >>"$out/build.log" 2>&1 ||
        { note "bundle: cannot unpack $bundle: $(tail -1 "$out/build.log")"; return 1; }
    local manifest=$root/MANIFEST
    note "bundle: $bundle, $(grep -m1 '^commit:' "$manifest")"
    grep -E '^(built|needs):' "$manifest" | sed 's/^/bundle: /' >>"$summary"
    local built here
    built=$(sed -n 's/^sources: //p' "$manifest")
    here=$(fingerprint)
    if [ "$built" != "$here" ]; then
        note "bundle: STALE: built from other sources ($built) than this tree's ($here);" \
            "its results are not this tree's: run bash gpu/make-device-bundle again"
        failed=1
    fi
    # Prepended: the machine's own path may be where its NVIDIA driver (libcuda.so.1) is found.
    run=(env LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
    local was=$failed
    # shellcheck disable=SC2016 # sh expands $1 and $2
    if step "bundle loads" 60 "$out/build.log" "${run[@]}" sh -c \
        '"$1" -functions >/dev/null && "$2" --benchmark_list_tests=true' sh \
        "$root/bin/tst_backends" "$root/bin/bench_gpu"; then
        tests=$root/bin/tst_backends
        bench=$root/bin/bench_gpu
        return 0
    fi
    failed=$was # building here decides
    local why
    why=$(awk '/^== bundle loads/ { s = "" } { s = s $0 "\n" } END { printf "%s", s }' \
        "$out/build.log" | grep -v "^== " | grep -m3 "error while loading\|GLIBC\|cannot")
    [ -n "$why" ] || why=$(tail -3 "$out/build.log")
    why=$(echo "$why" | tr '\n' ' ')
    note "bundle: cannot load here: $why"
    note "bundle: falling back to building here"
    run=()
    return 1
}

if [ -n "$bundle" ] && [ -f "$bundle" ]; then
    note "mode: bundle ($bundle)"
    use_bundle
else
    note "mode: build (no bundle at ${bundle:-(none)}; bash gpu/make-device-bundle makes one)"
fi

if [ -z "$tests" ]; then
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    # No emulator: the device runs the real backend (and needs no Boost).
    if ! step configure 300 "$out/build.log" cmake -S . -B "$build" "${generator[@]}" \
        -DATTNSTEER_WITH_EMULATOR=OFF \
        -DCMAKE_BUILD_TYPE=Release -DATTNSTEER_BUILD_APP=OFF -DATTNSTEER_WITH_CUDA=ON \
        -DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"; then
        if grep -q "Qt6\|QCustomPlot" "$out/build.log"; then
            note "configure failed: Qt6 development packages (qt6-base-dev: Qt Core and Qt Test)" \
                "are missing here; the tests are Qt Test suites and cannot be built without them"
        fi
        grep -m3 "CMake Error\|Could not find" "$out/build.log" >>"$summary"
        finish
    fi
    if ! grep -q "backend built: ON" "$out/build.log"; then
        note "configure: CMake found no CUDA compiler; the CUDA backend is not built"
        failed=1
        finish
    fi
    step build 900 "$out/build.log" cmake --build "$build" -j"$(nproc)" \
        --target tst_backends tst_attention bench_gpu || finish
    tests=$build/tests/tst_backends
    bench=$build/tests/bench/bench_gpu
fi

step tst_backends 600 "$out/tst_backends.txt" "${run[@]}" "$tests"
# The fused attention kernel against the CPU forward and the float64 reference (tst_attention sits
# next to tst_backends, in the bundle and in the build); its log goes with tst_backends'.
attention_tests=$(dirname "$tests")/tst_attention
step tst_attention 300 "$out/tst_backends.txt" "${run[@]}" "$attention_tests"
grep -E "^Totals|^FAIL" "$out/tst_backends.txt" >>"$summary"
if grep -q "no CUDA device" "$out/tst_backends.txt"; then
    note "tst_backends: the CUDA rows were skipped: $(grep -m1 -o 'no CUDA device.*' \
        "$out/tst_backends.txt")"
    failed=1
fi

# Before the sanitizer, whose run time is the least predictable.
# Each benchmark: a warm-up, then the median (and mean, sd) of 10 repetitions of many iterations.
step bench_gpu 600 "$out/bench_gpu.txt" "${run[@]}" "$bench" --benchmark_min_warmup_time=0.2 \
    --benchmark_repetitions=10 \
    --benchmark_report_aggregates_only=true --benchmark_out="$out/bench_gpu.json" \
    --benchmark_out_format=json
grep -E "median|^bench_gpu:" "$out/bench_gpu.txt" >>"$summary"

sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -n "$sanitizer" ]; then
    # API errors are not reported: outOfMemoryIsADeviceError fails a cudaMalloc on purpose.
    # With the bundle, compute-sanitizer itself runs with its LD_LIBRARY_PATH too.
    step memcheck 600 "$out/sanitizer.txt" "${run[@]}" "$sanitizer" --tool memcheck \
        --leak-check full --report-api-errors no --error-exitcode 99 "$tests"
    step racecheck 300 "$out/sanitizer.txt" "${run[@]}" "$sanitizer" --tool racecheck \
        --error-exitcode 99 "$tests" "matchesReference:cuda: random 3x50x300" \
        "matchesReference:cuda exact: random 3x50x300" \
        "matchesReference:cuda: causal attention 2x40 eps=0"
    # The attention kernel shares one shared-memory tile between K and V: the barrier between them
    # is only checked here (the emulator's shuffles keep its warps in step).
    step racecheck-attention 300 "$out/sanitizer.txt" "${run[@]}" "$sanitizer" --tool racecheck \
        --error-exitcode 99 "$attention_tests" cudaMatchesCpu
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$out/sanitizer.txt" >>"$summary"
    if grep -qi "device not supported" "$out/sanitizer.txt"; then
        note "compute-sanitizer: \"Device not supported\" on this machine (seen on gVisor" \
            "machines): memcheck and racecheck could not check the kernels here"
    fi
    grep -m2 "error while loading\|GLIBC" "$out/sanitizer.txt" >>"$summary"
else
    note "compute-sanitizer: not found; memcheck skipped"
    failed=1
fi

finish
