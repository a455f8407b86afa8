#!/usr/bin/env bash
# Every GPU figure of docs/benchmarks.md in one run (about 5 minutes on an H100).
#
# Run it from the repository root on a machine with a GPU and a CUDA build of torch. The
# project is put on PYTHONPATH. Dependencies that the machine lacks (skorch, for instance)
# may be placed as wheel files in .whl/: they are installed offline into /tmp/site first
# (NO_WHEELS=1 skips that step).
#
#     bash benchmarks/gpu_check.sh                  # writes to $OUT, else ./gpu-results
#     DEVICE=cpu QUICK=1 NO_WHEELS=1 bash benchmarks/gpu_check.sh   # dry run on a CPU
#
# 1. training throughput: hand-written loop (float32 and bfloat16 autocast) vs
#    MLabNCClassifier (precision="float32", the default precision="auto" -- bfloat16 from
#    compute capability 8.0 -- and, at the default precision, compile=True and batch 8192)
#    vs skorch's default DataLoader, MLP 256->1024->1024->512->20, batch 1024,
#    200,000 samples x 5 epochs;
# 2. the streaming collapse report on the GPU, n = 10^6, d = 512, K = 50;
# 3. prediction throughput per decision rule under precision="auto", K = 10, 100, 1000,
#    and the cost of batch-invariant (padded) inference chunks;
# 4. `mlabnc reproduce` with the ResNet-18 backbone on multi-label digits, learned vs ETF head.
set -uo pipefail
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
if [ -z "${NO_WHEELS:-}" ] && compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=.:${PYTHONPATH:-} PYTHONUNBUFFERED=1
if [ -n "${QUICK:-}" ]; then
    train=(--n-samples 8192 --epochs 1 --repeats 1 --hidden 64 --large-batch 4096)
    collapse=(--n 20000 --d 64 --K 10)
    predict=(--quick)
    reproduce=(--epochs 2 --width 8 --every 1)
else
    train=(--n-samples 200000 --epochs 5 --repeats 3 --large-batch 8192)
    collapse=(--n 1000000 --d 512 --K 50)
    predict=(--labels 10 100 1000 --n-samples 200000)
    reproduce=(--epochs 30 --every 5)
fi
status=0
{
    python3 -c "import torch, sklearn, skorch; print('torch', torch.__version__, \
'| sklearn', sklearn.__version__, '| skorch', skorch.__version__, '|', \
torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU', \
'| native bfloat16:', __import__('sklearn_mlabnc').native_bfloat16('$DEVICE'))"
    echo "== training" && python3 benchmarks/bench_training.py --device "$DEVICE" --compile \
        --skip-sklearn "${train[@]}" --out "$OUT/training.json" || status=1
    echo "== collapse" && python3 -W ignore::RuntimeWarning benchmarks/bench_collapse.py \
        --device "$DEVICE" "${collapse[@]}" --out "$OUT/collapse.json" || status=1
    echo "== predict" && python3 benchmarks/bench_predict.py --device "$DEVICE" \
        "${predict[@]}" --out "$OUT/predict.json" || status=1
    echo "== reproduce" && python3 -m sklearn_mlabnc reproduce --dataset digits \
        --backbone resnet18 --head linear etf --device "$DEVICE" --quiet \
        "${reproduce[@]}" --out /tmp/reproduce || status=1
    cp /tmp/reproduce/report.md "$OUT/reproduce.md" 2>/dev/null
    cp /tmp/reproduce/collapse_curves.png "$OUT/" 2>/dev/null
    exit $status
} 2>&1 | tee "$OUT/log.txt"

status=$?  # of the runs above
# 5. data-parallel training, only on machines with at least 2 GPUs: MLabNCClassifier with
#    strategy="ddp" on 2 GPUs under torchrun against strategy="single" on one, the same MLP
#    (without BatchNorm), data and global batch size: samples/s, speed-up and the largest
#    parameter difference between the two models.
n_gpus=$(python3 -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
if [ "$DEVICE" = cuda ] && [ "${n_gpus:-0}" -ge 2 ]; then
    if [ -n "${QUICK:-}" ]; then ddp=(--quick); else ddp=(--n-samples 200000 --epochs 5); fi
    {
        echo "== data-parallel: 2 GPUs vs 1"
        python3 benchmarks/bench_ddp.py --device cuda "${ddp[@]}" --out "$OUT/ddp_1gpu.json" &&
            python3 -m torch.distributed.run --standalone --nproc_per_node 2 \
                benchmarks/bench_ddp.py --device cuda "${ddp[@]}" \
                --baseline "$OUT/ddp_1gpu.json" --out "$OUT/ddp_2gpu.json"
    } 2>&1 | tee -a "$OUT/log.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
else
    echo "== data-parallel: skipped (${n_gpus:-0} GPU(s) with DEVICE=$DEVICE; needs 2 GPUs)" |
        tee -a "$OUT/log.txt"
fi
exit $status
