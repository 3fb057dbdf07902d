#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one go, printing everything (issue #14). From the repository root, in an
# environment with albench installed (pip install -e ".[test,seeds]"):
#
#     bash benchmarks/gpu_check.sh 2>&1 | tee gpu_check.log
#
# Each step has its own time limit; together they stay under 8 minutes (7 min 55 s at most, and less in practice). A step that fails or
# runs out of time is reported and the next one runs; the exit status counts the failed steps.
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
export HF_HUB_OFFLINE=1
failed=0

step() {  # step SECONDS DESCRIPTION COMMAND...
    local limit=$1 description=$2
    shift 2
    echo
    echo "=== $description (limit ${limit}s): $*"
    local started=$SECONDS
    timeout --kill-after=10 "$limit" "$@"
    local status=$?
    echo "=== $description: exit $status after $((SECONDS - started))s"
    [ "$status" -eq 0 ] || failed=$((failed + 1))
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
"$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"

step 50 "backbone tests" "$python" -m pytest -q -p no:cacheprovider tests/test_backbones.py
step 40 "scoring engine (CPU, 1 thread)" "$python" benchmarks/bench_scoring.py --scales voc --skip-memory --repeats 3
step 35 "backbone training steps" "$python" benchmarks/bench_backbones.py --device cuda --sizes 513 --batch 4 \
    --backbones deeplabv3-resnet50 deeplabv3-resnet101
step 95 "one VOC round at 513², fp32 and bf16, beside bare loops; projection" "$python" benchmarks/bench_round.py \
    --device cuda --precision fp32 bf16 --images 32 --steps 10 --repeats 3 --project
step 40 "superpixels on every core (VOC 513², slic)" "$python" benchmarks/bench_superpixels.py --scales voc \
    --methods slic --images 2 --repeats 1 --pool 96
step 20 "layers bf16 autocast keeps in float32" "$python" benchmarks/bench_round.py --device cuda --autocast-report \
    --images 2
step 100 "round 0 twice, bit for bit (nearest and bilinear heads, fp32 and bf16)" "$python" \
    benchmarks/determinism_check.py --device cuda --size 129 --images 16 --steps 6
step 95 "peak memory of a Cityscapes-size pool (2,975 × 769²)" "$python" benchmarks/bench_round.py --device cuda \
    --memory --memory-images 2975 --precision bf16

echo
echo "gpu_check: $failed step(s) failed"
exit "$failed"
