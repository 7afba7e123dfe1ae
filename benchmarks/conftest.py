"""Options for the pytest-benchmark cases in this folder (see test_fftconv.py)."""


def pytest_addoption(parser):
    group = parser.getgroup("fftbench")
    group.addoption("--fftbench-suite", default="smoke", help="suite whose points are benchmarked (default: smoke)")
    group.addoption("--fftbench-rounds", type=int, default=20,
                    help="timed rounds per case, each after an L2 flush (20)")
