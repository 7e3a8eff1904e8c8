#!/usr/bin/env bash
# Verification of the CUDA backend on a machine with an NVIDIA GPU, from a fresh checkout:
# installs what is missing (when a package index is reachable), builds both extensions in
# place with nvcc, runs tests/test_cuda.py and bench/bench_gpu.py, and prints a summary.
# Needs nvcc (CUDA 12 or later) on PATH or under CUDA_HOME / /usr/local/cuda, and python3
# with pip. PYTHON picks the interpreter (default: python3; missing packages are installed
# into it, so point it at a virtual environment's); CIRCUITS_NVCC_FLAGS defaults to
# -arch=native. Takes a few minutes on a 16-core machine (the build is most of it).
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
py="${PYTHON:-python3}"
log="$(mktemp -d)"
status_build="not run" status_tests="not run" status_bench="not run"

if ! command -v nvcc > /dev/null; then
    for dir in "${CUDA_HOME:-}" /usr/local/cuda; do
        if [ -n "$dir" ] && [ -x "$dir/bin/nvcc" ]; then
            export PATH="$dir/bin:$PATH"
            break
        fi
    done
fi
echo "== GPU and toolkit"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
nvcc --version | tail -2 || echo "nvcc not found: the CUDA backend will not be built"

echo "== Python packages"
for pkg in numpy pytest hypothesis blake3 scipy_openblas32 setuptools torch nvidia-cublas; do
    mod="${pkg//-/_}"
    [ "$pkg" = nvidia-cublas ] && mod=""
    if [ -n "$mod" ] && "$py" -c "import $mod" 2> /dev/null; then
        continue
    fi
    if [ -z "$mod" ] && "$py" -m pip show -q nvidia-cublas 2> /dev/null; then
        continue
    fi
    name="$pkg"
    [ "$pkg" = scipy_openblas32 ] && name=scipy-openblas32
    echo "installing $name"
    "$py" -m pip install -q --retries 0 --timeout 10 "$name" > "$log/pip-$name.log" 2>&1 ||
        echo "  could not install $name (see $log/pip-$name.log); going on without it"
done

echo "== Build"
export CIRCUITS_NVCC_FLAGS="${CIRCUITS_NVCC_FLAGS:--arch=native}"
if "$py" setup.py build_ext --inplace --force -j "$(nproc)" > "$log/build.log" 2>&1; then
    status_build="ok"
else
    status_build="FAILED (tail of $log/build.log below)"
    tail -30 "$log/build.log"
fi
grep "^circuits:" "$log/build.log" || true
grep -i "warning" "$log/build.log" | grep -v -i setuptools | head -20 || true

if [ "$status_build" = ok ]; then
    echo "== tests/test_cuda.py"
    (cd tests && PYTHONPATH="$root/python" timeout 300 "$py" -m pytest -q -p no:cacheprovider \
        -rs test_cuda.py) > "$log/tests.log" 2>&1
    rc=$?
    tail -40 "$log/tests.log"
    if [ "$rc" -eq 0 ]; then
        status_tests="ok: $(tail -1 "$log/tests.log")"
    else
        status_tests="FAILED (exit $rc): $(tail -1 "$log/tests.log")"
    fi

    echo "== bench/bench_gpu.py"
    PYTHONPATH="$root/python" timeout 300 "$py" bench/bench_gpu.py --reps 5 2>&1 |
        tee "$log/bench.log"
    rc=${PIPESTATUS[0]}
    case "$rc" in
    0) status_bench="ok" ;;
    2) status_bench="no GPU ($(tail -1 "$log/bench.log"))" ;;
    124) status_bench="timed out after 300 s" ;;
    *) status_bench="FAILED (exit $rc)" ;;
    esac
fi

echo
echo "== Summary"
echo "build: $status_build"
echo "tests/test_cuda.py: $status_tests"
echo "bench/bench_gpu.py: $status_bench"
echo "logs: $log"
[ "$status_build" = ok ] && [ "$status_bench" = ok ] && [[ "$status_tests" = ok* ]]
