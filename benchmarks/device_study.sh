#!/usr/bin/env bash
# The results study on a lent GPU machine (docs/results.md "Protocol"): one command, resumable.
# Expects the four prepared pkls gzipped in .devdata/ (made here with `adasgn prepare`: the shared
# data does not travel) and writes the archive of finished stages to $OUT/study.tgz.
#   bash benchmarks/device_study.sh SECONDS [JOBS]
set -u
limit=${1:-500}; jobs=${2:-15}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE
mkdir -p data
for f in .devdata/*.pkl.gz; do b=$(basename "$f" .gz); [ -f "data/$b" ] || gunzip -c "$f" > "data/$b"; done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numpy', numpy.__version__)"
nproc; uptime
t0=$(date +%s)
if [ ! -f runs/smoke.ok ]; then
  # two-epoch smoke of every stage kind on MSR: stop early if the CUDA path breaks
  timeout 150 python3 benchmarks/study.py run --sets msr --seeds 1 --no-streams --per-stage \
    --jobs "$jobs" --alphas 1 --out runs/smoke --archive runs/smoke-archive --device cuda \
    --overrides train.epochs=2 'train.milestones=[1]' recipe.freeze_epochs=1 recipe.transform_freeze=1
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "SMOKE FAILED rc=$rc"; for l in runs/smoke/study/*.log; do echo "== $l"; tail -25 "$l"; done
    exit 3
  fi
  touch runs/smoke.ok
  echo "smoke passed in $(( $(date +%s) - t0 )) s"
fi
left=$(( limit - ($(date +%s) - t0) ))
timeout "$left" python3 benchmarks/study.py run --per-stage --jobs "$jobs" --seeds 1 2 3 --device cuda > "$OUT/driver.log" 2>&1
echo "driver rc=$? after $(( $(date +%s) - t0 )) s"
python3 benchmarks/study.py archive
tail -5 "$OUT/driver.log"
grep -c "^done" "$OUT/driver.log"; grep "FAILED" "$OUT/driver.log" | head
tar czf "$OUT/study.tgz" benchmarks/results
tar czf "$OUT/logs.tgz" runs/study/*.log 2>/dev/null
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
ls -la "$OUT"
