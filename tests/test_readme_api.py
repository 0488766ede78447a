"""README's Python API script, run as written but for its agent, data and output folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.paper_helpers import tiny_agent

ROOT = Path(__file__).resolve().parent.parent
INPUTS = 'agent, data, out = Path("runs/agent"), "sp500", Path("runs/my-backtest")'


def readme_script() -> str:
    """The python block of README's "Python API" section."""
    section = (ROOT / "README.md").read_text().split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "README's Python API section has no python block"
    return match.group(1)


def test_the_readme_script_backtests_an_agent_and_reads_its_results(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    script = readme_script()
    assert INPUTS in script
    agent = tiny_agent(tmp_path_factory)
    ours = f'agent, data, out = Path("{agent}"), "synthetic", Path("{tmp_path / "bt"}")'
    exec(compile(script.replace(INPUTS, ours), "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split(":")[0].strip() == "buy_and_hold" and "trades" in lines[0]
    assert (tmp_path / "bt" / "trades.csv").is_file()
