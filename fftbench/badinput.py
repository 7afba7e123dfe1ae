"""Bad input, said one way by every command: one line `fftbench: error: ...` on stderr and exit
code 2 — argparse's own errors included, which would otherwise print a usage block first."""
from __future__ import annotations

import argparse
import sys

EXIT_CODE = 2


def report(message: str) -> int:
    """Print the one line; returns the exit code to return from main."""
    print(f"fftbench: error: {message}", file=sys.stderr)
    return EXIT_CODE


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (the usage is one --help away)."""

    def error(self, message: str):
        report(f"{message} (see {self.prog} --help)")
        sys.exit(EXIT_CODE)
