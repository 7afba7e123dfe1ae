#!/usr/bin/env bash
# --gpus on a real GPU machine (the one-GPU H200 runs it with one worker lane): a small GPU subset of
# the seqlen suite with `--gpus all`, then checks that every row a worker wrote names the GPU it ran on
# (nvidia-smi index, and the UUID nvidia-smi gives that index), carries that GPU's clocks, and that
# every GPU of the machine ran some of the work.
#
#   tools/device/shard_check.sh [OUT_DIR [run flags...]]
#   device tool, from the repo root:  bash tools/device/shard_check.sh $OUT/shardcheck
#   other flags replace the subset:   bash tools/device/shard_check.sh $OUT/x2 --suite seqlen
#
# Needs only what the device image has (torch, pandas, pyarrow, nvidia-ml-py); fftbench is imported
# from this tree. Prints the wall time of the sweep, for comparing one GPU with several.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out=${1:-/tmp/fftbench-shard-check}
shift || true
flags=("$@")
if [ ${#flags[@]} -eq 0 ]; then
  flags=(--suite seqlen --backends torch_fft,triton_monarch --seqlens 1K,4K,16K --modes causal,circular)
fi
rm -rf "$out"
nvidia-smi --query-gpu=index,uuid,name --format=csv,noheader | tee /tmp/fftbench-gpus.csv
start=$(date +%s)
python3 run_bench.py "${flags[@]}" --gpus all --out "$out" --no-report --point-timeout 600
echo "sweep wall time: $(( $(date +%s) - start )) s"
python3 - "$out" /tmp/fftbench-gpus.csv <<'PY'
import sys
from fftbench.results import load_run

run_dir, gpus_csv = sys.argv[1], sys.argv[2]
smi = {int(i): u.strip() for i, u, _ in (line.split(",", 2) for line in open(gpus_csv) if line.strip())}
meta, rows = load_run(run_dir)
worker = rows[~rows["status"].isin(["unsupported", "unavailable"])]
problems = []
if worker.empty:
    problems.append("no row came from a worker")
if worker["gpu_index"].isna().any():
    problems.append(f"{int(worker['gpu_index'].isna().sum())} worker rows without gpu_index")
for index, uuid in zip(worker["gpu_index"].dropna().astype(int), worker["gpu_uuid"]):
    if smi.get(index) != uuid:
        problems.append(f"row says GPU {index} is {uuid}; nvidia-smi says {smi.get(index)}")
        break
ok = worker[worker["status"] == "ok"]
if ok["sm_clock_mhz"].isna().any():
    problems.append("ok rows without the SM clock")
used = set(worker["gpu_index"].dropna().astype(int))
if used != set(smi):
    problems.append(f"GPUs used {sorted(used)}, machine has {sorted(smi)}")
if any(s.get("gpu_index") is None for s in meta.get("env_samples", [])):
    problems.append("clock samples without gpu_index")
print(rows.groupby(["gpu_index", "backend", "status"], dropna=False).size().to_string())
print(f"{len(rows)} rows, {len(ok)} ok, {len(used)} GPU(s) used: {sorted(used)}")
if problems:
    sys.exit("shard check FAILED: " + "; ".join(problems))
print("shard check passed")
PY
