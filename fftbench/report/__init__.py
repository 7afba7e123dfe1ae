"""Reports of a finished run: one self-contained HTML page plus every plot as PNG and SVG.

    from fftbench.report import write_report
    write_report(Path("reports/runs/<run_id>"))   # -> reports/runs/<run_id>/report.html

Reads only the saved run directory (results.jsonl and run.json), never the GPU.
"""
from fftbench.report.page import write_report

__all__ = ["write_report"]
