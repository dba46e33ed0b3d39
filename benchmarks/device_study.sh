#!/usr/bin/env bash
# The results study on a lent GPU machine (docs/results.md "Protocol"): one command, resumable
# while the machine stays warm; stages already archived (benchmarks/results/study) are skipped
# (but the singles a missing AdaSGN stage starts from), so a later session continues where the
# archive stops. The shared data does not travel
# to that machine: prepare the four pkls here and carry them gzipped in .devdata/:
#   echo /.devdata/ >> .git/info/exclude; mkdir -p .devdata
#   for s in msr fpha utd_mhad penn; do gzip -c data/$s.pkl > .devdata/$s.pkl.gz; done
# then run there (carry .devdata):   bash benchmarks/device_study.sh SECONDS [JOBS]
# A two-epoch smoke of every stage kind on MSR comes first (stops early if the CUDA path breaks);
# the archive comes back as $OUT/study.tgz (untar it in the repository root), logs as logs.tgz.
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
python3 benchmarks/study.py todo --seeds 1 2 3 | tail -3   # the plan: stages left, minutes they took
left=$(( limit - ($(date +%s) - t0) ))
timeout "$left" python3 benchmarks/study.py run --per-stage --jobs "$jobs" --seeds 1 2 3 --device cuda > "$OUT/driver.log" 2>&1
echo "driver rc=$? after $(( $(date +%s) - t0 )) s"
python3 benchmarks/study.py archive
tail -5 "$OUT/driver.log"
python3 benchmarks/study.py todo --seeds 1 2 3 > "$OUT/todo.txt"; tail -3 "$OUT/todo.txt"   # what is left
grep -c "^done" "$OUT/driver.log"; grep "FAILED" "$OUT/driver.log" | head
tar czf "$OUT/study.tgz" benchmarks/results
tar czf "$OUT/logs.tgz" runs/study/*.log 2>/dev/null
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
ls -la "$OUT"
