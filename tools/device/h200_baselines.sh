#!/usr/bin/env bash
# The H200 baselines of issue 15, produced by the suite itself, one bounded call at a time.
#
#   bash tools/device/h200_baselines.sh SUITE [BUDGET_S]
#   REDO=monarch_cuda bash tools/device/h200_baselines.sh seqlen [BUDGET_S]
#
# SUITE: seqlen, longrange, precision, sparsity or gated runs `run_bench.py --suite SUITE` into
# reports/baselines/h200-SUITE (every backend, every point; --resume when that directory exists);
# `profile` runs Nsight Compute over reports/baselines/h200-seqlen's 1K/4K/16K/1M causal points,
# `profile-longrange` over h200-longrange's 1M causal points (resumable too: profiled points are
# skipped; PROFILE_BACKENDS=b1,b2 limits either to those backends). The run stops itself after BUDGET_S seconds
# (default 540, so a call fits a 10-minute device command); finished rows are kept, and the same
# call again continues where it stopped. It prints COMPLETE or INCOMPLETE at the end.
# REDO=B1,B2 (suites only, on a committed baseline): measure those backends' rows again after a
# kernel change (`run_bench.py --resume DIR --redo`); their old rows stay as superseded-*.jsonl.
# A call that stops INCOMPLETE is continued without REDO (the rows already moved are re-run).
#
# The device machine returns only $OUT, at most 8 files: the run directory comes back as
# $OUT/h200-SUITE.tar.gz (with the log beside it). Unpack it into reports/baselines/ of the
# checkout before the next call, so that the partial run travels with the tree and resumes:
#   tar xzf FILES_AT/h200-seqlen.tar.gz -C reports/baselines
#
# Provenance: every row records the commit. Where the device copy has no usable .git, name the
# commit: FFTBENCH_GIT_SHA=$(git rev-parse HEAD) FFTBENCH_GIT_DIRTY=0 (fftbench.environment).
set -uo pipefail
cd "$(dirname "$0")/../.."

suite=${1:-}
budget=${2:-540}
case "$suite" in
  seqlen|longrange|precision|sparsity|gated) dir=reports/baselines/h200-$suite ;;
  profile) dir=reports/baselines/h200-seqlen; seqlens=1K,4K,16K,1M ;;
  profile-longrange) dir=reports/baselines/h200-longrange; seqlens=1M ;;
  *) echo "usage: $0 seqlen|longrange|precision|sparsity|gated|profile|profile-longrange [BUDGET_S]" >&2; exit 2 ;;
esac
if ! [[ "$budget" =~ ^[0-9]+$ ]] || (( budget < 60 )); then
  echo "$0: BUDGET_S must be an integer of at least 60 seconds, not '$budget'" >&2; exit 2
fi
if [[ -z "${FFTBENCH_GIT_SHA:-}" ]] && ! git rev-parse HEAD >/dev/null 2>&1; then
  echo "$0: no git here: set FFTBENCH_GIT_SHA (and FFTBENCH_GIT_DIRTY=0) to the commit being measured" >&2; exit 2
fi
if ! python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "$0: no CUDA GPU visible; these baselines are the H200's" >&2; exit 2
fi

export PYTHONUNBUFFERED=1
out=${OUT:-/tmp/h200-baselines}
mkdir -p "$out"
log=$out/h200-$suite.log

if [[ $suite == profile* ]]; then
  if [[ ! -f $dir/results.jsonl ]]; then
    echo "$0: $dir has no results yet: run its suite first" >&2; exit 2
  fi
  cmd=(python3 run_bench.py profile "$dir" --seqlens "$seqlens" --modes causal ${PROFILE_BACKENDS:+--backends "$PROFILE_BACKENDS"})
else
  # A point may take at most half the budget, so every call finishes at least one point.
  where=(--out "$dir"); [[ -f $dir/run.json ]] && where=(--resume "$dir")
  if [[ -n ${REDO:-} ]]; then
    [[ -f $dir/run.json ]] || { echo "$0: REDO=$REDO needs the committed run $dir" >&2; exit 2; }
    where+=(--redo "$REDO")
  fi
  cmd=(python3 run_bench.py --suite "$suite" "${where[@]}" --no-report --point-timeout $((budget / 2)))
fi

pack() {  # the run directory as it stands, replaced atomically so a kill never leaves half a tarball
  tar czf "$out/.h200-$suite.tar.gz" -C reports/baselines "$(basename "$dir")" 2>/dev/null &&
    mv -f "$out/.h200-$suite.tar.gz" "$out/h200-$suite.tar.gz"
}
# Re-packed every 20 s while the suite runs: if the device call's own limit ends this script before
# its budget does, the rows finished so far still come back.
( while sleep 20; do pack; done ) &
packer=$!

echo "== ${cmd[*]}  (stops after ${budget} s)" | tee "$log"
# SIGINT lets the CLI stop cleanly (finished rows are already on disk); SIGKILL 30 s later if not.
timeout -s INT -k 30 "$budget" "${cmd[@]}" 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}

kill "$packer" 2>/dev/null
pack
if (( rc == 0 )); then
  echo "COMPLETE: $suite (rc 0) -> $out/h200-$suite.tar.gz" | tee -a "$log"
else
  echo "INCOMPLETE: $suite stopped with rc $rc; unpack $out/h200-$suite.tar.gz into reports/baselines and call again" | tee -a "$log"
fi
exit $rc
