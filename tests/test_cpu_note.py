"""Before the default run starts on a machine without a GPU it says that its problems are
CPU-sized and how long it takes; with a selection of its own the duration is not promised."""
from fftbench.cli import _cpu_note, build_parser
from fftbench.suites import load_suite


def test_default_cpu_run_says_it_is_cpu_sized_and_how_long_it_takes():
    suite = load_suite("seqlen")
    problems = suite.points(cpu_sized=True)
    note = _cpu_note(build_parser().parse_args([]), suite, problems)
    assert "CPU-sized" in note and f"about {suite.cpu['minutes']:g} minutes" in note and "N 256…16384" in note
    narrowed = _cpu_note(build_parser().parse_args(["--seqlens", "1K"]), suite, problems)
    assert "CPU-sized" in narrowed and "minutes" not in narrowed
