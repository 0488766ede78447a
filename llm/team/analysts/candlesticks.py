"""Candlestick charts of a snapshot, as PNG bytes for a vision model.

mplfinance draws the candles and volume (the field's standard, rather than hand-drawn rectangles).
Rendering is headless (Agg) and in memory: no window, no file. pyplot is not thread-safe and the
chart analyst runs beside other nodes, so rendering is serialised by a lock.
"""

from __future__ import annotations

import base64
import functools
import io
import threading
from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import mplfinance as mpf
import pandas as pd

from llm.team.snapshot import Bar, SnapshotError

_RENDER_LOCK = threading.Lock()

_DPI = 100
_MIN_BARS = 2


@functools.cache
def _style() -> dict[str, object]:
    """yahoo's colours; its "semibold" title has no DejaVu face and logs a findfont warning."""
    return mpf.make_mpf_style(base_mpf_style="yahoo", rc={"figure.titleweight": "bold"})


def _bars_frame(bars: Sequence[Bar]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Open": [b.open for b in bars],
            "High": [b.high for b in bars],
            "Low": [b.low for b in bars],
            "Close": [b.close for b in bars],
            "Volume": [b.volume for b in bars],
        },
        index=pd.DatetimeIndex([b.time for b in bars], name="Date"),
    )


def render_candlestick_png(
    bars: Sequence[Bar], *, title: str = "", size_px: tuple[int, int] = (800, 500)
) -> bytes:
    """PNG bytes of a candlestick chart with volume and 10/30-bar moving averages."""
    if len(bars) < _MIN_BARS:
        raise SnapshotError(f"a chart needs at least {_MIN_BARS} bars, got {len(bars)}")
    frame = _bars_frame(bars)
    moving_averages = tuple(n for n in (10, 30) if n < len(bars))
    averages = {"mav": moving_averages} if moving_averages else {}  # mplfinance refuses mav=None
    buffer = io.BytesIO()
    with _RENDER_LOCK:
        matplotlib.use("Agg")  # no-op when already headless; never opens a window
        figure, _axes = mpf.plot(
            frame,
            type="candle",
            volume=True,
            style=_style(),
            title=title,
            figsize=(size_px[0] / _DPI, size_px[1] / _DPI),
            returnfig=True,
            warn_too_much_data=10_000,
            **averages,
        )
        try:
            figure.savefig(buffer, format="png", dpi=_DPI)
        finally:
            plt.close(figure)
    return buffer.getvalue()


def image_block(png: bytes) -> dict[str, object]:
    """An OpenAI-style image content block (a data URL), as ChatOpenAI sends it."""
    encoded = base64.b64encode(png).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}}
