#!/usr/bin/env python3
"""fftbench's command line (same as the `fftbench` console script): python run_bench.py --help"""
import sys

from fftbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
