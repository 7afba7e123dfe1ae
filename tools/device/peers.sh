#!/usr/bin/env bash
# The peers suite on a lent GPU machine: FlashFFTConv and ThunderKittens built from the source
# snapshots of ../shared/peers, then measured beside our backends.
#
# Why two calls: one device call lasts at most 10 minutes, FlashFFTConv's extension takes about
# 333 s to build (H200, 6 jobs), and only /tmp outlives a call (while the machine stays warm, 30 s
# between calls); an ignored path of the working tree is replaced by the next call's copy. So:
#
#   bash tools/device/peers.sh build   unpack both under /tmp, start FlashFFTConv's build in the
#                                      background (setsid), build ThunderKittens, then run the
#                                      suite's other backends while FlashFFTConv compiles
#   bash tools/device/peers.sh prepare the same unpacking, background build and TK build, without the
#                                      suite: for a call that runs another suite (seqlen) meanwhile,
#                                      with the FFTBENCH_* variables below exported
#   bash tools/device/peers.sh run     wait for FlashFFTConv, complete the suite (--resume), write
#                                      the report, pack the run into $OUT/peers-run.tar.gz and
#                                      its Markdown comparison table into $OUT/peers-table.md
#
# `run` again (within 30 s) finishes a suite that one call could not; each call stops itself
# before CALL_LIMIT_S (default 570) with its finished rows saved.
# Needs: .peers/ in the repository root (ignored, carried) holding the two tarballs of
# ../shared/peers. FFTBENCH_GIT_SHA / FFTBENCH_GIT_DIRTY / FFTBENCH_GIT_BRANCH pass through;
# SUITE_ARGS adds run_bench.py flags to both modes (e.g. SUITE_ARGS="--seqlens 1K,4K,16K,1M").
set -euo pipefail

MODE=${1:-}
START=$(date +%s)
CALL_LIMIT_S=${CALL_LIMIT_S:-570}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=/tmp/fftbench-peers
FFC=$WORK/flash-fft-conv
FFC_BUILD=$FFC/csrc/flashfftconv
RUN_DIR=$WORK/run-peers
OUT=${OUT:-$WORK/out}

export FFTBENCH_FLASHFFTCONV_ROOT=$FFC
export FFTBENCH_TK_ROOT=$WORK/thunderkittens
export TORCH_EXTENSIONS_DIR=$WORK/torch_extensions
export PYTHONUNBUFFERED=1
cd "$REPO"
mkdir -p "$OUT"

say() { echo "[peers.sh $(($(date +%s) - START))s] $*"; }
left() { echo $((CALL_LIMIT_S - ($(date +%s) - START))); }

# FlashFFTConv's setup.py emits compute_80 PTX only; build Hopper machine code instead.
patch_arch() {
  sed -i "s/cc_flag = \['--generate-code=arch=compute_80,code=compute_80'\]/cc_flag = ['-gencode=arch=compute_90,code=sm_90']/" "$1"
  grep -q "code=sm_90'\]" "$1" || { echo "peers.sh: the arch flag of $1 was not found to patch" >&2; exit 1; }
}

unpack() {
  local ffc_tar tk_tar
  ffc_tar=$(ls .peers/flash-fft-conv-*.tar.gz 2>/dev/null | head -1 || true)
  tk_tar=$(ls .peers/thunderkittens-fftconv-*.tar.gz 2>/dev/null | head -1 || true)
  if [[ -z $ffc_tar || -z $tk_tar ]]; then
    echo "peers.sh: copy ../shared/peers/*.tar.gz into .peers/ and carry .peers" >&2
    exit 2
  fi
  mkdir -p "$FFC" "$FFTBENCH_TK_ROOT"
  tar xzf "$ffc_tar" -C "$FFC"
  tar xzf "$tk_tar" -C "$FFTBENCH_TK_ROOT"
  patch_arch "$FFC_BUILD/setup.py"
}

# The suite under a deadline: SIGINT before the call's limit leaves every finished row saved.
suite() {
  local budget=$(($(left) - ${1})); shift
  if ((budget < 30)); then say "no time left for the suite in this call"; return 1; fi
  say "suite peers for up to ${budget}s: $*"
  # shellcheck disable=SC2086
  timeout --signal=INT --kill-after=20 "$budget" python3 run_bench.py --suite peers --point-timeout 300 "$@" ${SUITE_ARGS:-}
}

suite_args() {
  if [[ -f $RUN_DIR/run.json ]]; then echo "--resume $RUN_DIR"; else echo "--out $RUN_DIR"; fi
}

start_builds() {
    if [[ ! -f $FFC_BUILD/build.rc && ! -f $FFC_BUILD/build.log ]]; then
      unpack
      say "FlashFFTConv build started in the background (log: $FFC_BUILD/build.log)"
      setsid bash -c 'cd "$1" && MAX_JOBS=6 python3 setup.py build_ext --inplace >build.log 2>&1; echo $? >build.rc' \
        _ "$FFC_BUILD" </dev/null >/dev/null 2>&1 &
    fi
    say "building ThunderKittens' fftconv"
    if python3 -c "from kernels.peers.thunderkittens_fftconv import extension; print(extension().__file__)"; then
      say "ThunderKittens built"
    else
      say "ThunderKittens' build failed: its rows will say why"
    fi
}

case $MODE in
  prepare)
    start_builds
    ;;
  build)
    start_builds
    python3 run_bench.py --list | grep -A1 -E '^  (flashfftconv|thunderkittens_fftconv) ' || true
    others=$(python3 -c "from fftbench.suites import load_suite; print(','.join(b for b in load_suite('peers').backends if b != 'flashfftconv'))")
    # shellcheck disable=SC2046
    suite 20 $(suite_args) --backends "$others" --no-report || say "suite stopped (rows so far are saved)"
    ;;
  run)
    while [[ ! -f $FFC_BUILD/build.rc ]]; do
      if (($(left) < 60)); then say "FlashFFTConv is still building: call run again"; exit 3; fi
      sleep 10
    done
    cp "$FFC_BUILD/build.log" "$OUT/flashfftconv-build.log"
    if [[ $(cat "$FFC_BUILD/build.rc") != 0 ]]; then
      tail -40 "$FFC_BUILD/build.log"; say "FlashFFTConv's build failed"; exit 1
    fi
    python3 run_bench.py --list | grep -A1 -E '^  (flashfftconv|thunderkittens_fftconv) ' || true
    status=0
    # shellcheck disable=SC2046
    suite 40 $(suite_args) || status=$?
    tar czf "$OUT/peers-run.tar.gz" -C "$WORK" "$(basename "$RUN_DIR")"
    if ((status != 0)); then say "suite unfinished (exit $status): call run again to resume"; exit 3; fi
    python3 -m fftbench.report.markdown "$RUN_DIR" >"$OUT/peers-table.md"
    say "suite complete: $OUT/peers-run.tar.gz, $OUT/peers-table.md"
    ;;
  *)
    echo "usage: bash tools/device/peers.sh prepare|build|run" >&2
    exit 2
    ;;
esac
