"""The report in a real headless Chromium (Debian's package, driven by Playwright): the plots are
displayed, the table holds every measured row (skipped ones one line per backend and reason) and
sorts on a header click, and the page logs no errors.

Playwright is pointed at the system chromium; it never downloads a browser. Skipped where
chromium or playwright is missing (CI installs both: see .ci/run).
"""
from __future__ import annotations

import json
import shutil

import pytest

from fftbench.report import write_report
from fftbench.report.plots import PLOTS
from fftbench.results import SKIPPED
from tests.fixtures.synthetic_runs import make_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")

# The flags this sandbox needs: no sandbox as root, and no background calls to the network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    run_dir = make_run(tmp_path_factory.mktemp("browser") / "run", seqlens=(1024, 4096), sparsity=True)
    report = write_report(run_dir)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.errors = []
        page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda err: page.errors.append(str(err)))
        page.on("requestfailed", lambda req: page.errors.append(f"request failed: {req.url}"))
        page.goto(report.as_uri(), wait_until="load")
        page.rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
        skips = {(r["backend"], r["status"], r["reason"]) for r in page.rows if r["status"] in SKIPPED}
        page.n_rows = sum(r["status"] not in SKIPPED for r in page.rows) + len(skips)
        yield page
        browser.close()


def test_every_plot_is_displayed(page):
    images = page.locator("section.plot img")
    assert images.count() == len(PLOTS)
    for i in range(images.count()):
        image = images.nth(i)
        assert image.evaluate("img => img.complete && img.naturalWidth > 0"), image.get_attribute("alt")
        box = image.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 100, image.get_attribute("alt")


def test_table_has_every_row(page):
    assert page.locator("#points tbody tr").count() == page.n_rows


def _column(page, header: str) -> list[str]:
    index = page.locator("#points thead th").all_inner_texts().index(header)
    return page.eval_on_selector_all(
        "#points tbody tr", f"rows => rows.map(r => r.cells[{index}].getAttribute('data-sort'))")


def test_clicking_a_header_sorts_numerically_with_blanks_last(page):
    header = page.locator('#points thead th[data-column="t_p50_us"]')
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    values = _column(page, "p50 µs")
    numbers = [float(v) for v in values if v]
    assert numbers == sorted(numbers) and len(numbers) > 10
    assert all(not v for v in values[len(numbers):]), "rows without a time sort last"
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    numbers = [float(v) for v in _column(page, "p50 µs") if v]
    assert numbers == sorted(numbers, reverse=True)


def test_filter_keeps_rows_matching_every_word(page):
    page.fill("#filter", "monarch_cuda fp16")
    expected = sum(r["backend"] == "monarch_cuda" and r["dtype"] == "fp16" for r in page.rows)
    assert 0 < expected < page.n_rows
    assert page.locator("#points tbody tr:not([hidden])").count() == expected
    page.fill("#filter", "")
    assert page.locator("#points tbody tr:not([hidden])").count() == page.n_rows


def test_no_console_errors(page):
    assert page.errors == [], json.dumps(page.errors, indent=1)
