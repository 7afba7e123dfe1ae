import json

from fftbench.results import COLUMNS, ResultStore, complete_row, export_tables, load_run, row_key, write_run_meta


def _row(seqlen, status="ok"):
    return complete_row({"run_id": "r", "suite": "s", "backend": "b", "batch": 1, "channels": 1, "seqlen": seqlen,
                         "kernel_len": seqlen, "mode": "causal", "dtype": "fp16", "gated": False,
                         "freq_sparsity": 0.0, "status": status, "t_p50_us": 1.5, "details": {"x": 1}})


def test_rows_have_every_column_and_reject_unknown_ones():
    row = _row(16)
    assert list(row) == list(COLUMNS) and row["schema_version"] == 1
    try:
        complete_row({"nonsense": 1})
    except KeyError:
        pass
    else:
        raise AssertionError("unknown column accepted")


def test_store_appends_loads_and_exports(tmp_path):
    store = ResultStore(tmp_path)
    store.append(_row(16))
    store.append(_row(32, status="wrong"))
    write_run_meta(tmp_path, {"run_id": "r"})
    meta, frame = load_run(tmp_path)
    assert meta["run_id"] == "r" and list(frame["seqlen"]) == [16, 32]
    assert store.finished_keys() == {row_key(_row(16)), row_key(_row(32))}
    written = export_tables(tmp_path)
    assert {p.name for p in written} == {"results.csv", "results.parquet"}


def test_a_torn_last_line_is_dropped_and_later_appends_stay_whole(tmp_path):
    store = ResultStore(tmp_path)
    store.append(_row(16))
    with store.path.open("a") as f:
        f.write(json.dumps(_row(32))[:40])  # a kill in the middle of a write
    assert [r["seqlen"] for r in store.rows()] == [16]
    store = ResultStore(tmp_path)  # a resumed run opens the store again
    store.append(_row(64))
    assert [r["seqlen"] for r in store.rows()] == [16, 64]


def test_rows_written_before_the_pass_axis_load_as_forward(tmp_path):
    from fftbench.compare import load_side
    from fftbench.environment import REPO_ROOT

    old = {k: v for k, v in _row(16).items() if k != "pass"}
    (tmp_path / "results.jsonl").write_text(json.dumps(old) + "\n")
    _, frame = load_run(tmp_path)
    assert list(frame["pass"]) == ["fwd"]
    assert ResultStore(tmp_path).finished_keys() == {row_key(_row(16))}
    assert [row["pass"] for row in load_side(tmp_path, "baseline").rows.values()] == ["fwd"]
    _, committed = load_run(REPO_ROOT / "reports" / "baselines" / "h100-seqlen")  # written before the axis existed
    assert len(committed) and (committed["pass"] == "fwd").all()
