"""Sharded sweeps: the --shard partition, the --gpus lanes (with a fake device list), merge, and
submit through real submitit jobs (local executor) on the CPU smoke suite."""
from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fftbench import registry
from fftbench.cli import main
from fftbench.compare import compare_runs
from fftbench.gpus import Gpu, pick_gpus
from fftbench.lanes import Stopped, run_lanes, split_tasks
from fftbench.merge import merge_runs
from fftbench.results import RESULTS_FILE, read_rows, row_key, write_run_meta
from fftbench.runner import RunSpec, Sweep
from fftbench.shard import ShardError, assign, select
from fftbench.submit import shard_commands, shard_dir, submit_jobs
from fftbench.suites import load_suite
from tests.fixtures.synthetic_runs import make_run

REPO = Path(__file__).resolve().parent.parent
SMALL = ["--suite", "smoke", "--cpu", "--backends", "torch_fft", "--seqlens", "256", "--dtypes", "fp32"]


# --- --shard ---------------------------------------------------------------------------------

@pytest.mark.parametrize("suite, count", [("seqlen", 1), ("seqlen", 2), ("seqlen", 7), ("sparsity", 3), ("longrange", 64)])
def test_partition_covers_every_point_once_whatever_the_order(suite, count):
    points = load_suite(suite).points()
    shards = [select(points, f"{i}/{count}") for i in range(count)]
    keys = [json.dumps(p.key(), sort_keys=True) for shard in shards for p in shard]
    assert sorted(keys) == sorted(json.dumps(p.key(), sort_keys=True) for p in points)  # each exactly once
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    shuffled = random.Random(count).sample(points, len(points))
    assert [set(map(id, select(shuffled, f"{i}/{count}"))) == set(map(id, s)) for i, s in enumerate(shards)] == [True] * count


def test_every_pass_of_a_point_shares_its_shard():
    """The training suite: each point once, and its fwd, bwd and fwd_bwd in one shard (the report's
    step / forward ratio compares them); a pass other than fwd does not move a point's shard."""
    points = load_suite("training").points()
    shards = [select(points, f"{i}/4") for i in range(4)]
    assert sorted(json.dumps(p.key(), sort_keys=True) for s in shards for p in s) == \
        sorted(json.dumps(p.key(), sort_keys=True) for p in points)
    shard_of = {}
    for i, shard in enumerate(shards):
        for p in shard:
            shard_of.setdefault(p.label().removesuffix(" bwd").removesuffix(" fwd_bwd"), set()).add(i)
    assert shard_of and all(len(s) == 1 for s in shard_of.values())


def test_a_point_keeps_its_shard_on_any_machine():
    """The partition is a pure function of the keys: sha256 of canonical JSON, no hash() salt."""
    keys = [{"batch": 2, "channels": 3, "seqlen": n, "kernel_len": n, "mode": "causal", "dtype": "fp32",
             "gated": False, "freq_sparsity": 0} for n in (256, 512, 1024, 2048)]
    code = ("import json,sys; from fftbench.shard import assign; print(json.dumps(assign(json.loads(sys.argv[1]), 3)))")
    other = subprocess.run([sys.executable, "-c", code, json.dumps(keys)], cwd=REPO, capture_output=True, text=True,
                           env=dict(os.environ, PYTHONHASHSEED="123", PYTHONPATH=str(REPO)))
    assert json.loads(other.stdout) == assign(keys, 3)


@pytest.mark.parametrize("argv, needle", [
    (["--shard", "2/2"], "--shard '2/2'"),
    (["--shard", "a/3"], "expected I/N"),
    (["--shard", "1/0"], "need 0 <= I < N"),
    (["--shard=-1/3"], "expected I/N"),
    (["--gpus", "99"], "no visible GPU 99"),
    (["--gpus", "0,x"], "expected 'all'"),
])
def test_bad_shard_or_gpus_is_one_line_and_exit_2(argv, needle, capsys, tmp_path):
    assert main([*SMALL, "--out", str(tmp_path / "run"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fftbench: error:") and needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


# --- --gpus ----------------------------------------------------------------------------------

FAKE = [Gpu(index=i, uuid=f"GPU-fake-{i}", name="Fake H200", visible=f"fake{i}") for i in (0, 1, 2, 3)]


def test_gpu_selection_from_a_fake_device_list():
    assert pick_gpus(None, FAKE) == FAKE[:1]  # no --gpus: the first GPU, as before sharding
    assert pick_gpus("all", FAKE) == FAKE
    assert pick_gpus("all", []) == [] and pick_gpus(None, []) == []  # a CPU machine: one CPU lane
    assert pick_gpus("3,1", FAKE) == [FAKE[3], FAKE[1]]
    for spec, needle in [("4", "no visible GPU 4"), ("1,1", "distinct"), ("one", "expected")]:
        with pytest.raises(ShardError, match=needle):
            pick_gpus(spec, FAKE)
    mixed = [FAKE[0], Gpu(index=1, uuid="GPU-x", name="Fake H100", visible="1")]
    with pytest.raises(ShardError, match="mixed GPU models"):
        pick_gpus("all", mixed)


@pytest.mark.parametrize("lanes", [1, 2, 3, 5])
def test_split_tasks_deals_each_backends_points_over_the_lanes(lanes):
    tasks = [("a", list(range(7))), ("b", list(range(2)))]
    split = split_tasks(tasks, lanes)
    for backend, points in tasks:
        mine = [p for b, ps in split if b == backend for p in ps]
        assert sorted(mine) == points
        assert sum(b == backend for b, _ in split) == min(lanes, len(points))
    modes = split_tasks([("a", ["causal", "circular"] * 6)], lanes)  # the seqlen suite's inner axis
    if lanes > 1:
        assert all(sorted(set(ps)) == ["causal", "circular"] for _, ps in modes)


def test_lanes_run_every_task_once_and_raise_a_lanes_error():
    seen = []
    run_lanes(list(range(20)), FAKE[:3], lambda task, gpu: seen.append((task, gpu.index)), threading.Event())
    assert sorted(t for t, _ in seen) == list(range(20))
    assert {g for _, g in seen} <= {0, 1, 2}

    def boom(task, gpu):
        if task == 3:
            raise RuntimeError("lane failure")
    stop = threading.Event()
    with pytest.raises(RuntimeError, match="lane failure"):
        run_lanes(list(range(8)), FAKE[:2], boom, stop)
    assert stop.is_set()

    stop, ran = threading.Event(), []

    def interrupted(task, gpu):  # what Sweep._record does once Ctrl-C has set stop
        if task == 2:
            stop.set()
        if stop.is_set():
            raise Stopped
        ran.append(task)
    run_lanes(list(range(8)), FAKE[:2], interrupted, stop)  # stopped lanes end quietly
    assert 2 not in ran and len(ran) < 8


def test_two_lanes_pin_their_workers_and_the_parent_writes_every_row(tmp_path, monkeypatch):
    """A real sweep over two fake GPUs on the CPU: each worker sees only its lane's GPU, every row
    says which GPU it ran on, and a second sweep over the run finds nothing left (resume)."""
    registry.load_backends()  # the built-in backends register in the real registry first
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the plugin stays in this test
    monkeypatch.delitem(sys.modules, "tests.plugins.pinned_backend", raising=False)
    importlib.import_module("tests.plugins.pinned_backend")
    backends = registry._REGISTRY
    monkeypatch.setenv("FFTBENCH_PLUGINS", "tests.plugins.pinned_backend")  # the workers load it themselves
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "parent-view")
    suite = load_suite("smoke")
    problems = suite.points(cpu_sized=True, overrides={"seqlen": [256], "dtype": ["fp32"]})
    meta = {"run_id": "lanes", "git": {"sha": "0" * 40, "dirty": False}, "env": {}, "calibration": {}}
    write_run_meta(tmp_path, meta)
    spec = RunSpec(suite=suite, problems=problems, backends=[backends["test_pinned"]], device="cpu",
                   run_dir=tmp_path, run_meta=meta, gpus=FAKE[1:3], pin=True)
    Sweep(spec).run()
    rows = list(read_rows(tmp_path / RESULTS_FILE))
    assert len(rows) == len(problems) == len({row_key(r) for r in rows})
    assert all(r["status"] == "ok" for r in rows), [r["reason"] for r in rows]
    assert {r["gpu_index"] for r in rows} == {1, 2}
    assert all(r["gpu_uuid"] == f"GPU-fake-{r['gpu_index']}" for r in rows)
    assert all(r["details"]["cuda_visible_devices"] == f"fake{r['gpu_index']}" for r in rows)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "parent-view"
    assert {s["gpu_index"] for s in meta["env_samples"]} == {1, 2}
    assert Sweep(spec).tasks() == []


# --- merge -----------------------------------------------------------------------------------

def split_run(full: Path, into: Path, count: int) -> list[Path]:
    """The rows of a synthetic run, cut into `count` shard runs by the --shard partition."""
    rows = list(read_rows(full / RESULTS_FILE))
    meta = json.loads((full / "run.json").read_text())
    shard_of = assign(rows, count)
    dirs = []
    for i in range(count):
        d = into / f"shard{i}"
        d.mkdir(parents=True)
        (d / RESULTS_FILE).write_text("".join(json.dumps(r) + "\n" for r, s in zip(rows, shard_of) if s == i))
        write_run_meta(d, {**meta, "run_id": f"shard{i}", "shard": f"{i}/{count}"})
        dirs.append(d)
    return dirs


@pytest.fixture
def shards(tmp_path):
    full = make_run(tmp_path / "full", seqlens=(1024, 4096))
    return full, split_run(full, tmp_path / "shards", 3)


def test_merge_is_order_independent_and_gives_back_the_whole_run(shards, tmp_path):
    full, dirs = shards
    outputs = []
    for n, order in enumerate(itertools.permutations(dirs)):
        out = tmp_path / f"order{n}" / "merged"
        merge_runs(list(order), out)
        outputs.append(((out / RESULTS_FILE).read_bytes(), (out / "run.json").read_text()))
    assert len(set(outputs)) == 1
    merged = tmp_path / "order0" / "merged"
    got = sorted(json.dumps(r, sort_keys=True) for r in read_rows(merged / RESULTS_FILE))
    assert got == sorted(json.dumps(r, sort_keys=True) for r in read_rows(full / RESULTS_FILE))
    meta = json.loads((merged / "run.json").read_text())
    assert [m["shard"] for m in meta["merged_from"]] == ["0/3", "1/3", "2/3"] and meta["run_id"] == "merged"
    result = compare_runs(full, merged)  # the gate reads it as any run
    assert result.exit_code == 0 and not result.missing and not result.added


@pytest.mark.parametrize("field, flag", [
    (("suite",), "--allow-mixed-suites"),
    (("git", "sha"), "--allow-mixed-commits"),
    (("env", "gpu"), "--allow-mixed-gpus"),
])
def test_merge_refuses_mismatched_runs_unless_told(shards, tmp_path, capsys, field, flag):
    _, dirs = shards
    meta = json.loads((dirs[1] / "run.json").read_text())
    target = meta
    for k in field[:-1]:
        target = target[k]
    target[field[-1]] = "something else"
    write_run_meta(dirs[1], meta)
    argv = ["merge", *map(str, dirs), "--out", str(tmp_path / "merged"), "--no-report"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fftbench: error: merge: runs of different") and flag in err and len(err.splitlines()) == 1
    assert not (tmp_path / "merged").exists()
    assert main([*argv, flag]) == 0


def test_merge_refuses_overlapping_shards_and_notes_missing_ones(shards, tmp_path, capsys):
    full, dirs = shards
    assert main(["merge", str(full), str(dirs[0]), "--out", str(tmp_path / "m1"), "--no-report"]) == 2
    assert "overlapping shards" in capsys.readouterr().err
    assert main(["merge", str(dirs[0]), str(dirs[2]), "--out", str(tmp_path / "m2"), "--no-report"]) == 0
    assert "shard(s) 1/3 not given" in capsys.readouterr().out
    assert main(["merge", str(dirs[1]), "--out", str(tmp_path / "m2"), "--no-report"]) == 2
    assert "already holds a run" in capsys.readouterr().err


# --- submit ----------------------------------------------------------------------------------

def test_submit_local_runs_real_submitit_jobs_and_merges_them(tmp_path, capsys):
    assert main([*SMALL, "--out", str(tmp_path / "single"), "--no-report"]) == 0
    out = tmp_path / "sharded"
    submit = ["submit", "--executor", "local", "--shards", "2", "--out", str(out), *SMALL, "--no-report"]
    assert main(submit) == 0, capsys.readouterr()
    shard_rows = [list(read_rows(shard_dir(out, i, 2) / RESULTS_FILE)) for i in range(2)]
    assert all(shard_rows), "each shard ran some points"
    points = lambda rows: sorted(json.dumps(row_key(r)) for r in rows)
    assert points(read_rows(out / RESULTS_FILE)) == points(read_rows(tmp_path / "single" / RESULTS_FILE))
    assert all(r["status"] == "ok" for r in read_rows(out / RESULTS_FILE))
    assert len(list((out / "submitit").glob("*_result.pkl"))) == 2
    capsys.readouterr()
    assert main(submit) == 2 and "already holds a merged run" in capsys.readouterr().err


def test_submit_to_slurm_without_a_cluster_is_one_line_and_exit_2(tmp_path, capsys):
    if shutil.which("srun"):
        pytest.skip("this machine has SLURM")
    assert main(["submit", "--executor", "slurm", "--shards", "2", "--out", str(tmp_path / "x"), *SMALL]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fftbench: error: submit --executor slurm") and len(err.splitlines()) == 1


def test_submit_to_slurm_is_one_job_array_of_the_shard_commands(tmp_path, monkeypatch):
    """Against stand-in srun/sbatch: the sbatch script submitit writes, and the pickled commands."""
    import submitit
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in {"srun": "exit 0", "sbatch": "echo 'Submitted batch job 4242'"}.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{text}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    opts = argparse.Namespace(gpus_per_shard=None, timeout_min=90, partition="h200")
    folder = tmp_path / "out" / "submitit"
    jobs = submit_jobs("slurm", shard_commands(["--suite", "seqlen"], tmp_path / "out", 3), folder, opts, cpu=False)
    assert [j.job_id for j in jobs] == ["4242_0", "4242_1", "4242_2"]
    script = (folder / "4242_submission.sh").read_text()
    for line in ("--array=0-2%3", "--gpus-per-node=1", "--partition=h200", "--time=90"):
        assert f"#SBATCH {line}\n" in script
    commands = [submitit.core.utils.pickle_load(folder / f"4242_{i}_submitted.pkl").function.command for i in range(3)]
    assert [c[-2:] for c in commands] == [[f"--shard={i}/3", f"--out={shard_dir(tmp_path / 'out', i, 3)}"]
                                          for i in range(3)]


def test_a_failed_shard_is_named_with_its_own_error_and_exit_1(tmp_path, capsys):
    argv = ["submit", "--executor", "local", "--shards", "1", "--out", str(tmp_path / "x"),
            "--suite", "smoke", "--cpu", "--backends", "nope"]
    assert main(argv) == 1  # the shard finds the bad name: submit checks only flags and the suite
    err = capsys.readouterr().err
    assert "shard 0/1 (job " in err and "fftbench: error: unknown backend 'nope'" in err
    assert not (tmp_path / "x" / "run.json").exists()
