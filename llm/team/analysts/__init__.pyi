"""The names `llm.team.analysts` exports, loaded on first use (see its `__init__.py`)."""

from .base import CompletionGateway as CompletionGateway
from .candlesticks import render_candlestick_png as render_candlestick_png
from .execution import (
    Confirmation as Confirmation,
)
from .execution import (
    confirm_order as confirm_order,
)
from .offline import (
    OfflineAnalystChatModel as OfflineAnalystChatModel,
)
from .offline import (
    content_text as content_text,
)
from .offline_rules import answer_prompt as answer_prompt
