"""Wires settings -> gateway -> analyst graph, for the offline analyst or the real models.

Offline is the default whenever gateway mode could not serve every task (no key configured), so
that a fresh checkout runs end to end. In offline mode every task is served by the offline
analyst at $0 through the same gateway (routing, ledger, parsing), with the cache off (the offline
analyst is deterministic and faster than a cache look-up) and no chart images (it reads the bar
table, not pictures). A gateway run whose model stack names a `[council]` has its meta decision
voted by those models (each seat's call in the ledger under the `council` task; the tally in the
decision's reasoning; anything short of the rule's agreement is HOLD).
"""

from __future__ import annotations

from dataclasses import replace

from llm.gateway import (
    LLM_MODES,
    AlertCallback,
    CacheMode,
    Gateway,
    LLMConfigError,
    LLMMode,
    LLMSettings,
    ModelStack,
    check_every_task_served,
    load_model_stack,
    load_settings,
)
from llm.team.analysts.offline import OfflineAnalystChatModel
from llm.team.council import Council
from llm.team.graph import AnalystTeam, TeamConfig


def default_mode(settings: LLMSettings, stack: ModelStack) -> LLMMode:
    """ "gateway" when every task has a model with a configured endpoint, else "offline"."""
    try:
        check_every_task_served(settings, stack)
    except LLMConfigError:
        return "offline"
    return "gateway"


def build_analyst_team(
    mode: LLMMode | None = None,
    *,
    settings: LLMSettings | None = None,
    config: TeamConfig | None = None,
    on_alert: AlertCallback | None = None,
) -> AnalystTeam:
    """An analyst team ready to `decide`; close it (or use `with`) to release ledger and cache.

    `mode=None` picks gateway mode when keys are configured, offline otherwise. Asking for
    gateway mode without a key raises LLMConfigError naming the variables to set.
    """
    settings = settings or load_settings()
    stack = load_model_stack(settings.model_stack_path)
    mode = mode or default_mode(settings, stack)
    if mode == "offline":
        offline_model = OfflineAnalystChatModel()
        gateway = Gateway.open(
            settings.model_copy(update={"cache_mode": CacheMode.OFF}),
            stack=ModelStack.offline(),
            chat_model_factory=lambda _spec: offline_model,
            on_alert=on_alert,
        )
        # The offline analyst is CPU-bound Python: threads would only add their start-up (about
        # 1 ms a decision), so its analysts run one after another; the decision is identical.
        team_config = replace(config or TeamConfig(), chart_images=False, parallel_analysts=False)
    elif mode == "gateway":
        gateway = Gateway.open(settings, stack=stack, on_alert=on_alert)
        team_config = gateway_team_config(stack, config)
    else:
        raise LLMConfigError(f"LLM mode must be one of {LLM_MODES}, got {mode!r}")
    return AnalystTeam(gateway, team_config)


def gateway_team_config(stack: ModelStack, config: TeamConfig | None = None) -> TeamConfig:
    """`config` (the defaults if None) for a gateway run on `stack`: the stack's `[council]`
    votes the meta decision unless `config` names a council of its own."""
    team_config = config or TeamConfig()
    if team_config.council is None and stack.council is not None:
        seats = stack.council
        team_config = replace(team_config, council=Council(seats.models, seats.rule))
    return team_config
