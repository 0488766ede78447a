"""The backtest end to end on a tiny agent trained here, its honesty checks, and its command.

The agent is a DQN trained for 512 steps on the synthetic source up to June 2007 (seconds); its
test split is the last 20 % of those bars, about 130 daily bars after a 30-bar window.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agents import DRLAgent, train_agents
from envs import CostModel, MarketDataError, performance_metrics
from envs.data.sources import load_market_data
from envs.data.splits import make_splits
from llm import AnalystTeam
from orchestrator.execution.paper_broker import PaperBroker
from orchestrator.execution.risk import RiskManager
from orchestrator.reports.backtest import backtest_metrics, equity_table
from orchestrator.runs import STRATEGY_NAMES, BacktestConfig, run_backtest
from orchestrator.runs.bar_engine import BarEngine
from orchestrator.runs.engine_state import EngineState
from orchestrator.trader.confirmation import ExecutionConfirmer
from orchestrator.trader.drl_advisor import DRLAdvisor
from orchestrator.trader.hybrid_trader import HybridDRLLLMTrader
from orchestrator.trader.market import load_trading_market
from orchestrator.trader.snapshots import MarketSnapshots
from tests.agents_helpers import tiny_config
from tests.engine_helpers import ListRecorder
from tests.market_helpers import exchange_hours, random_bars
from tests.paper_helpers import assert_one_error_line
from tests.paper_helpers import run_cli as run_command

END = "2007-06"
METRIC_KEYS = {
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sharpe_ci",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "turnover",
    "n_trades",
    "llm_calls",
    "llm_cost_usd",
}


@pytest.fixture(scope="module")
def agent_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("agent")
    train_agents(tiny_config(out, "dqn", end=END), progress_bar=False)
    return out


def write_bars(path: Path, bars: pd.DataFrame) -> Path:
    bars.rename(columns=str.capitalize).to_csv(path, index_label="Date")
    return path


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working folder: no key and no .env of the developer's, the ledger inside it."""
    monkeypatch.chdir(tmp_path)
    for name in ("LLM_GATEWAY_API_KEY", "TETRATE_API_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("LLM_GATEWAY_BASE_URL", raising=False)
    monkeypatch.setenv("LLM_LEDGER_PATH", str(tmp_path / "ledger.sqlite"))
    return tmp_path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`hybrid-trader backtest ARGS` in this process: (exit code, stdout, stderr)."""
    return run_command(capsys, "backtest", *args)


def test_the_command_writes_every_strategy_its_metrics_equity_and_plots(
    agent_dir: Path, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = cli_env / "report"
    code, stdout, stderr = run_cli(
        capsys, "--agent", str(agent_dir), "--data", "synthetic", "--end", END, "--out", str(out)
    )
    assert code == 0, stderr

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["in_sample"] is False  # the test split: after the agent's validation
    strategies = metrics["strategies"]
    assert tuple(strategies) == STRATEGY_NAMES
    for values in strategies.values():
        assert set(values) >= METRIC_KEYS
        low, high = values["sharpe_ci"]
        assert low <= values["sharpe"] <= high and values["llm_cost_usd"] == 0.0
    n_bars = metrics["run"]["n_bars"]
    assert 100 < n_bars < 200 and metrics["run"]["first_decision"] < "2007-01-01"
    assert strategies["drl"]["llm_asks"] == strategies["buy_and_hold"]["llm_asks"] == 0
    # The hybrid asks at most once per window of the LLM-alone calendar (it used to ask more).
    assert 0 < strategies["hybrid_learned"]["llm_asks"] <= strategies["llm"]["llm_asks"]
    # Only the strategies that ask the LLM put their orders to its execution check: buy_and_hold
    # (pure) and drl (it calls no LLM) make no LLM call at all. (All of them used to.)
    checks = metrics["run"]["order_checks"]
    assert checks["risk_manager"] == [name for name in STRATEGY_NAMES if name != "buy_and_hold"]
    assert checks["execution_check"] == [
        name for name in STRATEGY_NAMES if name not in {"buy_and_hold", "drl"}
    ]
    for name, values in strategies.items():
        assert (values["llm_calls"] >= 1) == (name in checks["execution_check"]), name
        assert values["n_trades"] == values["fills"], name  # every fill is a trade
    assert strategies["buy_and_hold"]["fills"] == 1

    equity = pd.read_csv(out / "equity.csv")
    assert list(equity.columns[:4]) == ["date", "strategy", "position", "equity"]
    assert len(equity) == len(STRATEGY_NAMES) * (n_bars + 1)
    assert (equity.groupby("strategy")["equity"].first() == 100_000.0).all()
    weights = equity.set_index("strategy")["drl_weight"]
    assert (weights["hybrid_fixed"] == 0.5).all() and weights["hybrid_learned"].nunique() > 10

    table = (out / "metrics.md").read_text()
    assert all(f"| {name} |" in table for name in STRATEGY_NAMES)
    assert "Orders through the risk manager: drl, llm," in table
    assert "through neither (pure, the same fills and costs): buy_and_hold." in table
    # The hybrids calibrate the LLM's stated confidence on its scored views; the report shows it.
    reliability = strategies["hybrid_learned"]["llm_reliability"]
    assert sum(row["n"] for row in reliability) > 0
    assert "llm_reliability" not in strategies["llm"]
    assert "How reliable the LLM's stated confidence was (hybrid_learned)" in table
    for plot in ("equity.png", "positions.png", "drawdowns.png", "weights.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()  # interactive, and whole: plotly.js is inside
    assert "SYNTHETIC" in page and "hybrid_learned buys" in page and '<script src="' not in page
    assert "hybrid_learned" in stdout and str(out / "metrics.json") in stdout
    assert sorted(path.name for path in cli_env.iterdir()) == ["ledger.sqlite", "report"]


def test_an_interrupt_while_the_report_is_written_leaves_the_earlier_one_whole(
    agent_dir: Path,
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C after metrics.json, the CSVs and the plots are written, before report.html: with
    `--force` over an earlier report nothing of the new one lands (it used to leave a folder
    mixing the two runs' files), and in a new folder nothing is left at all."""
    args = ["--agent", str(agent_dir), "--data", "synthetic", "--end", END]
    assert run_cli(capsys, *args, "--out", "report")[0] == 0
    before = {path.name: path.read_bytes() for path in (cli_env / "report").iterdir()}

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("orchestrator.reports.backtest.save_html", interrupted)
    for out in ("report", "new"):
        assert run_cli(capsys, *args, "--start", "2006-06", "--out", out, "--force")[0] == 130
    after = {path.name: path.read_bytes() for path in (cli_env / "report").iterdir()}
    assert after == before
    assert sorted(path.name for path in cli_env.iterdir()) == ["ledger.sqlite", "report"]


def test_buy_and_hold_is_the_price_ratio_less_one_entry_price(
    agent_dir: Path, team: AnalystTeam, tmp_path: Path
) -> None:
    # A steady rise whose every open is the previous close: no gap between decision and fill.
    rng = np.random.default_rng(5)
    n_bars = 400
    close = 100.0 * np.exp(np.cumsum(0.0008 + rng.normal(0.0, 0.004, n_bars)))
    open_ = np.concatenate([[100.0], close[:-1]])
    bars = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": rng.uniform(1e6, 2e6, n_bars).round(),
        },
        index=pd.bdate_range("2015-01-02", periods=n_bars, name="Date"),
    )
    agent = DRLAgent.load(agent_dir)
    market = load_trading_market(agent, str(write_bars(tmp_path / "rise.csv", bars)))
    config = BacktestConfig(strategies=("buy_and_hold",))
    run = run_backtest(agent, market, team, config).strategies["buy_and_hold"]

    # Bought at the first fill, the open after the first decision, with the buy costs; held to
    # the end. (It used to be an order of the bar engine, sized at the decision close and put
    # through the risk manager and the LLM: envs.buy_and_hold is the one benchmark now.)
    entry_open = market.arrays.open[market.first_bar + 1]
    buy_cost = CostModel().buy_cost_rate
    expected = 100_000.0 * (market.arrays.close[-1] / entry_open) / (1.0 + buy_cost)
    assert run.frame["equity"].iloc[-1] == pytest.approx(expected, rel=1e-12)
    assert run.activity.fills == 1 and run.activity.orders_vetoed == 0
    assert run.activity.llm_calls == 0 and run.llm_asks == 0
    assert (run.frame["held_position"].iloc[1:] == 1.0).all()


def engine_records(agent: DRLAgent, source: Path, team: AnalystTeam) -> list[ListRecorder]:
    """Every record of a hybrid run over `source`'s test split, one recorder per bar."""
    market = load_trading_market(agent, str(source))
    snapshots = MarketSnapshots(market)
    costs = agent.env_config.cost_model
    trader = HybridDRLLLMTrader(
        DRLAdvisor(agent, market.arrays.features, agent.env_config),
        team,
        snapshots,
        cost_model=costs,
    )
    engine = BarEngine(
        market,
        trader,
        PaperBroker(100_000.0, symbol=market.symbol, cost_model=costs),
        RiskManager(cost_model=costs),
        run_id="look-ahead",
        state=EngineState.opening(100_000.0),
        confirmer=ExecutionConfirmer(team.gateway, snapshots),
    )
    recorders = []
    for bar in range(market.first_bar, market.n_bars):
        recorders.append(ListRecorder())
        engine.step(bar, recorders[-1])
    return recorders


def comparable(recorder: ListRecorder) -> list[object]:
    """A bar's records as plain values (decisions, checks, orders, fills, state)."""
    values: list[object] = []
    for method, value, keywords in recorder.calls:
        if method in {"decision", "risk_check"}:
            values.append(asdict(value))  # type: ignore[call-overload]
        elif method == "state":
            values.append((keywords["portfolio"], keywords["llm_view"], keywords["loop_state"]))
        else:
            values.append(value)
    return values


@pytest.mark.parametrize("hourly", [False, True], ids=["daily", "hourly"])
def test_changing_the_bars_after_t_changes_nothing_decided_up_to_t(
    agent_dir: Path, team: AnalystTeam, tmp_path: Path, hourly: bool
) -> None:
    agent = DRLAgent.load(agent_dir)
    bars = load_market_data("synthetic", end=END)
    if hourly:  # the same prices as a stock's hourly bars: the risk manager's days hold 7 bars
        bars = bars.set_axis(exchange_hours(len(bars)))
    cut = len(bars) - 60  # a bar inside the test split
    future = random_bars(np.random.default_rng(11), bars.index[cut + 1 :], bars["close"].iloc[cut])
    changed = pd.concat([bars.iloc[: cut + 1], future])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()  # the same file name: the symbol (from it) is in every record
    original = engine_records(agent, write_bars(tmp_path / "a" / "bars.csv", bars), team)
    rewritten = engine_records(agent, write_bars(tmp_path / "b" / "bars.csv", changed), team)

    decided = len(original) - (len(bars) - 1 - cut)  # the records of bars up to the cut
    assert [comparable(r) for r in original[:decided]] == [
        comparable(r) for r in rewritten[:decided]
    ]
    assert comparable(original[decided]) != comparable(rewritten[decided])  # the test can fail


def test_the_hybrids_can_learn_their_weights_by_thompson_sampling(
    agent_dir: Path, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = cli_env / "thompson"
    args = ("--agent", str(agent_dir), "--data", "synthetic", "--end", END, "--out", str(out))
    assert_one_error_line(*run_cli(capsys, *args, "--learner", "bandit"), "--learner 'bandit'")
    assert not out.exists()
    code, _, stderr = run_cli(capsys, *args, "--learner", "thompson")
    assert code == 0, stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["learner"] == "thompson"
    hybrid = metrics["strategies"]["hybrid_learned"]
    assert hybrid["regret_bound"] is None  # Thompson sampling carries no worst-case bound
    assert sum(hybrid["final_weights"].values()) == pytest.approx(1.0)


def test_gateway_mode_without_a_key_is_the_llm_configuration_error(
    agent_dir: Path, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = cli_env / "out"
    result = run_cli(
        capsys, "--agent", str(agent_dir), "--data", "synthetic", "--llm", "gateway",
        "--out", str(out),
    )  # fmt: skip
    assert_one_error_line(*result, "OPENROUTER_API_KEY")
    assert not out.exists()


def test_an_agent_whose_features_differ_is_refused_by_name(
    agent_dir: Path, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = cli_env / "agent"
    copy.mkdir()
    for item in agent_dir.iterdir():
        if item.is_file():
            (copy / item.name).write_bytes(item.read_bytes())
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["feature_names"][-1] = "volume_rank_20"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = run_cli(capsys, "--agent", str(copy), "--data", "synthetic", "--out", "out")
    assert_one_error_line(
        *result, "feature mismatch", "missing volume_rank_20", "unexpected volume_zscore_20"
    )


def test_a_missing_agent_directory_is_one_line(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "--agent", "nowhere", "--data", "synthetic", "--out", "out")
    assert_one_error_line(*result, "nowhere: agent directory not found")


def test_hourly_bars_are_annualised_with_their_own_year(
    agent_dir: Path, team: AnalystTeam, tmp_path: Path
) -> None:
    bars = load_market_data("synthetic", end=END)
    path = write_bars(tmp_path / "hourly.csv", bars.set_axis(exchange_hours(len(bars))))
    agent = DRLAgent.load(agent_dir)
    config = BacktestConfig(strategies=("buy_and_hold", "drl"))
    result = run_backtest(agent, load_trading_market(agent, str(path)), team, config)
    metrics = backtest_metrics(result)
    assert metrics["run"]["periods_per_year"] == 7 * 252
    assert metrics["run"]["first_decision"].endswith(":30:00")
    rows = equity_table(result)
    assert not rows.duplicated(["date", "strategy"]).any()  # a row per hourly bar, not per day
    equity = result.strategies["drl"].frame["equity"].to_numpy()
    held = result.strategies["drl"].frame["held_position"].to_numpy()[1:]
    daily_sharpe = performance_metrics(equity, held, 252)["sharpe"]
    assert metrics["strategies"]["drl"]["sharpe"] == pytest.approx(daily_sharpe * np.sqrt(7))
    overridden = load_trading_market(agent, str(path), periods_per_year=252)
    assert run_backtest(agent, overridden, team, config).periods_per_year == 252


def test_an_agent_with_its_own_split_dates_is_tested_after_its_validation(
    tmp_path: Path,
) -> None:
    """On its own source an agent is traded on its manifest's test split, not on the source's
    default one (which here would start three months later, hiding a quarter of the test, and
    for earlier custom dates would reach back into bars it learned from)."""
    config = tiny_config(
        tmp_path / "agent",
        "dqn",
        end="2007-06",
        validation_start="2006-04-03",
        test_start="2006-10-02",
    )
    train_agents(config, progress_bar=False)
    agent = DRLAgent.load(config.out)
    market = load_trading_market(agent, "synthetic", end="2007-06")
    first_traded = pd.Timestamp(market.arrays.dates[market.first_bar + 1])
    assert (
        first_traded == pd.Timestamp(agent.manifest.splits["test"][0]) == pd.Timestamp("2006-10-02")
    )
    assert not market.in_sample
    default = make_splits("synthetic", load_market_data("synthetic", None, "2007-06").index)
    assert default.test_start > pd.Timestamp("2006-12-31")  # what it used to trade from


def test_a_copy_of_the_agent_s_series_under_another_name_is_cut_at_the_agent_s_splits(
    tmp_path: Path,
) -> None:
    """A CSV of the agent's own bars, cut to fewer years, is its own series: its default split
    would start a "test" inside the agent's validation (2006-04 to 2006-09) and call it out of
    sample. The same dates with other prices are another series."""
    splits = {"validation_start": "2006-04-03", "test_start": "2006-10-02"}
    config = tiny_config(tmp_path / "agent", "dqn", end="2007-06", **splits)
    train_agents(config, progress_bar=False)
    agent = DRLAgent.load(config.out)
    bars = load_market_data("synthetic", None, "2007-06")
    copy = tmp_path / "copy.csv"
    bars.loc["2004":"2006-12"].to_csv(copy)
    default = make_splits(str(copy), bars.loc["2004":"2006-12"].index)
    assert default.test_start < pd.Timestamp("2006-10-02")  # what it would have traded from
    market = load_trading_market(agent, str(copy))
    assert pd.Timestamp(market.arrays.dates[market.first_bar + 1]) == pd.Timestamp("2006-10-02")
    assert not market.in_sample
    assert load_trading_market(agent, str(copy), start="2006-06").in_sample
    bars.loc[:"2006-09"].to_csv(copy)
    with pytest.raises(MarketDataError, match="these are the bars of synthetic"):
        load_trading_market(agent, str(copy))
    other = bars.loc["2004":"2006-12"].copy()
    other[["open", "high", "low", "close"]] *= 1.01
    other.to_csv(copy)
    market = load_trading_market(agent, str(copy))
    assert pd.Timestamp(market.arrays.dates[market.first_bar + 1]) == default.test_start


def test_an_agent_trained_on_a_file_knows_it_however_its_path_is_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest records the file's absolute path: typed as `./data/bars.csv`, in full, or
    from another folder, it is still the agent's own source, traded from the agent's test split
    and not from a default split of "another" file, which here would start in its validation."""
    folder = tmp_path / "data"
    folder.mkdir()
    load_market_data("synthetic", None, "2007-06").to_csv(folder / "bars.csv")
    monkeypatch.chdir(folder)
    splits = {"validation_start": "2006-04-03", "test_start": "2006-10-02"}
    config = tiny_config(tmp_path / "agent", "dqn", data="bars.csv", **splits)
    train_agents(config, progress_bar=False)
    agent = DRLAgent.load(config.out)
    recorded = str((folder / "bars.csv").resolve())
    assert agent.manifest.data_source == recorded and agent.manifest.training_sources == (recorded,)
    monkeypatch.chdir(tmp_path)
    for typed in ("data/bars.csv", "./data/bars.csv", str(folder / "bars.csv")):
        market = load_trading_market(agent, typed)
        assert pd.Timestamp(market.arrays.dates[market.first_bar + 1]) == pd.Timestamp("2006-10-02")
        assert not market.in_sample
        assert load_trading_market(agent, typed, start="2006-06").in_sample
