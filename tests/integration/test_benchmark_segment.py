"""``scripts/benchmark_segment.py``: a small run prints and writes one row per reading, and its
scans hold digits of about the height asked for."""

import json
import re

import cv2
import numpy as np

from tests.helpers.config import requires_mnist
from tests.helpers.scripts import load_script

benchmark_segment = load_script("benchmark_segment")


def test_a_small_run_prints_and_writes_a_row_per_reading(tmp_path, capsys):
    requires_mnist()
    output = tmp_path / "speed.json"
    argv = ["--count", "2", "--sizes", "m2nist", "--threads", "1", "--output", str(output)]
    benchmark_segment.main(argv)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("CPU: ") and "avx512_bf16" in lines[0] and "amx" in lines[0]
    rows = [line.split() for line in lines if line.startswith("m2nist 64x84 ")]
    assert [" ".join(row[2:4]) for row in rows] == [
        "net alone",
        "Segmenter defaults",
        "Segmenter cheapest",
    ]
    net, *readers = rows
    assert float(net[4]) > 0 and float(net[5]) > 0 and len(net) == 6
    for row in readers:  # each rate, then its shares outside the nets: "(24% | 31%)"
        rates = re.findall(r"([\d.]+) \((\d+)% \| (\d+)%\)", " ".join(row[4:]))
        assert len(rates) == 2
        for rate, outside_nets, outside_segmenter in rates:
            assert float(rate) > 0 and 0 <= int(outside_nets) <= int(outside_segmenter) <= 100
    written = json.loads(output.read_text())
    assert written["counts"] == {"m2nist": 2} and written["threads"] == 1
    assert [(r["size"], r["what"]) for r in written["rows"]] == [
        ("m2nist", " ".join(row[2:4])) for row in rows
    ]
    assert [round(r["batched"], 1) for r in written["rows"]] == [float(row[4]) for row in rows]


def test_scans_are_grey_pages_of_numbers_with_digits_about_40_px_tall():
    requires_mnist()
    scan = benchmark_segment.paper_scan(benchmark_segment.preset_generator("numbers"), 0)
    assert scan.shape == (400, 1000) and scan.dtype == np.uint8
    assert np.median(scan) == benchmark_segment.PAPER_GREY
    _, _, stats, _ = cv2.connectedComponentsWithStats((scan < 128).view(np.uint8))
    heights = stats[1:, cv2.CC_STAT_HEIGHT][stats[1:, cv2.CC_STAT_AREA] >= 100]
    assert len(heights) >= 6 and 30 <= np.median(heights) <= 50
