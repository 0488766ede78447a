"""Chart rendering: PNG bytes in memory, no files, no open figures, a data-URL image block."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from llm.team.analysts.candlesticks import image_block, render_candlestick_png
from llm.team.snapshot import SnapshotError
from tests.llm_helpers import trend_snapshot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_renders_png_in_memory_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    png = render_candlestick_png(trend_snapshot(0.004).bars, title="TEST", size_px=(400, 300))
    assert png.startswith(PNG_SIGNATURE)
    width = int.from_bytes(png[16:20], "big")
    height = int.from_bytes(png[20:24], "big")
    assert (width, height) == (400, 300)
    assert list(tmp_path.iterdir()) == []
    assert plt.get_fignums() == []


@pytest.mark.parametrize("n_bars", [2, 5, 10, 11, 31])
def test_a_chart_too_short_for_a_moving_average_is_drawn_without_it(n_bars: int) -> None:
    bars = trend_snapshot(0.004).bars[:n_bars]
    assert len(bars) == n_bars
    assert render_candlestick_png(bars, size_px=(200, 150)).startswith(PNG_SIGNATURE)


def test_needs_two_bars() -> None:
    with pytest.raises(SnapshotError, match="at least 2 bars, got 1"):
        render_candlestick_png(trend_snapshot(0.0).bars[:1])


def test_image_block_is_an_openai_data_url() -> None:
    block = image_block(b"\x89PNG-bytes")
    url = block["image_url"]["url"]  # type: ignore[index]
    assert block["type"] == "image_url"
    assert base64.b64decode(url.removeprefix("data:image/png;base64,")) == b"\x89PNG-bytes"
