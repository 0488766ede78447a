"""Model stack: the packaged default, user overrides, the offline stack and validation errors."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from llm import LLMConfigError, ModelStack, Task, load_model_stack
from llm.gateway.model_stack import OFFLINE_MODEL_ID
from llm.gateway.types import Complexity
from tests.gateway_helpers import small_stack_data


def test_packaged_default_serves_every_task() -> None:
    stack = load_model_stack()
    assert set(stack.tasks) == set(Task)
    assert stack.task(Task.TRADE_EXECUTION).primary == "anthropic/claude-opus-4.1"
    assert stack.task(Task.TRADE_EXECUTION).tier is Complexity.CRITICAL
    assert stack.task(Task.NARRATIVE_ANALYSIS).primary == "deepseek/deepseek-chat-v3-0324"
    assert stack.task(Task.DATA_PROCESSOR).primary == "qwen/qwen-2.5-7b-instruct"
    assert stack.task(Task.DOCUMENT_ANALYSIS).primary == "moonshotai/kimi-k2-0905"
    assert stack.model(stack.task(Task.CHART_ANALYSIS).primary).vision
    assert stack.most_expensive().id == "anthropic/claude-opus-4.1"
    # 1M input + 1M output tokens at $15 + $75.
    assert stack.model("anthropic/claude-opus-4.1").cost_usd(1_000_000, 1_000_000) == 90.0


def test_user_file_is_merged_over_the_default(tmp_path: Path) -> None:
    override = tmp_path / "stack.toml"
    override.write_text(
        '[models."deepseek/deepseek-chat-v3-0324"]\ninput_per_million = 0.5\n'
        '[tasks.narrative_analysis]\nfallbacks = ["deepseek/deepseek-r1-0528"]\n'
    )
    stack = load_model_stack(override)
    deepseek = stack.model("deepseek/deepseek-chat-v3-0324")
    assert deepseek.input_per_million == 0.5
    assert deepseek.output_per_million == 0.77  # untouched keys keep the default
    assert stack.task(Task.NARRATIVE_ANALYSIS).fallbacks == ("deepseek/deepseek-r1-0528",)
    assert str(override) in stack.source


def test_offline_stack_serves_everything_free() -> None:
    stack = ModelStack.offline()
    assert {route.primary for route in stack.tasks.values()} == {OFFLINE_MODEL_ID}
    assert stack.model(OFFLINE_MODEL_ID).cost_usd(10_000, 10_000) == 0.0
    assert stack.task(Task.TRADE_EXECUTION).tier is Complexity.CRITICAL


def _broken(edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(small_stack_data())
    edit(data)
    return data


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["tasks"].update(astrology={"primary": "primary-a"}),
            "unknown task 'astrology'",
        ),
        (lambda d: d["models"]["primary-a"].pop("input_per_million"), "input_per_million"),
        (lambda d: d["tasks"].pop("data_processor"), "no entry for task"),
        (
            lambda d: d["tasks"]["chart_analysis"].update(primary="primary-a"),
            "chart_analysis needs images but model 'primary-a'",
        ),
        (
            lambda d: d["tasks"]["narrative_analysis"].update(fallbacks=["ghost-model"]),
            "tasks.narrative_analysis.fallbacks names model 'ghost-model'",
        ),
        (
            lambda d: d["routing"].update(downgrade_chain=["top-x", "ghost-model"]),
            "routing.downgrade_chain names model 'ghost-model'",
        ),
        (lambda d: d["routing"].update(vision_model="primary-a"), "vision_model"),
        (lambda d: d["routing"].update(long_context_model="cheap-c"), "long_context_model"),
        (lambda d: d["models"]["primary-a"].update(vison=True), "vison"),
        (lambda d: d["tasks"]["meta_orchestrator"].update(tier="urgent"), "tier"),
    ],
)
def test_invalid_stacks_are_refused_with_the_entry_named(edit: Any, expected: str) -> None:
    with pytest.raises(LLMConfigError, match=expected):
        ModelStack.from_mapping(_broken(edit), source="test stack")


def test_unreadable_override_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "stack.toml"
    bad.write_text("[models\n")
    with pytest.raises(LLMConfigError, match="cannot read"):
        load_model_stack(bad)


def test_unknown_model_lookup_is_a_config_error() -> None:
    with pytest.raises(LLMConfigError, match="'ghost' is not in the model stack"):
        load_model_stack().model("ghost")
