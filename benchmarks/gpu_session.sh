#!/usr/bin/env bash
# Everything this project checks on a lent GPU, in one call (the device time
# of a session is short): the CUDA tests, then the three benchmarks on CUDA.
# Each step has its own time limit, so a stuck step leaves time for the rest.
# Results and logs go to $OUT (default /tmp/gpu_session) as one archive,
# gpu_session.tgz; the exit status is 1 if any step failed.
#
#   OUT=/tmp/gpu bash benchmarks/gpu_session.sh
#
# Where the machine lacks smplx / trimesh / fast-simplification, put their
# wheels (for its Python) in .whl/ at the repository root; they are
# installed into /tmp/site. Nothing else is installed.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/gpu_session}
RES=$(mktemp -d /tmp/gpu_session_results.XXXXXX)
mkdir -p "$OUT"
FAILED=0
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "=== $name (limit ${limit} s) $(date +%T)"
    local t0=$SECONDS
    timeout "$limit" "$@" >"$RES/$name.log" 2>&1
    local rc=$?
    [ "$rc" -eq 0 ] || FAILED=1
    tail -n 25 "$RES/$name.log"
    echo "=== $name: rc $rc, $((SECONDS - t0)) s"
}

{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm \
        --format=csv
    python3 -c "import sys, torch, torch_geometric as g;
print(sys.version.split()[0], 'torch', torch.__version__, 'cuda',
      torch.version.cuda, 'pyg', g.__version__,
      torch.cuda.get_device_name(0))"
} >"$RES/env.txt" 2>&1
cat "$RES/env.txt"

step cuda_tests 120 python3 -m pytest -q -p no:cacheprovider -rs \
    -k "cuda or sync" tests
step fusion 150 python3 benchmarks/fusion_sparse_vs_dense.py --device cuda \
    --target-s 0.25 --out-dir "$RES" --plot "$RES/bench_fusion_cuda.png"
step mesh_conv 100 python3 benchmarks/mesh_conv.py --device cuda \
    --target-s 0.25 --out-dir "$RES" --plot "$RES/bench_mesh_cuda.png"
step throughput 100 python3 benchmarks/model_throughput.py --device cuda \
    --presets cpu paper --precisions float32 bfloat16 --out-dir "$RES"

tar czf "$OUT/gpu_session.tgz" -C "$RES" .
ls -la "$RES"
exit "$FAILED"
