"""The names `envs.features` exports, loaded on first use (see its `__init__.py`)."""

from .indicators import (
    FEATURE_NAMES as FEATURE_NAMES,
)
from .indicators import (
    WARMUP_BARS as WARMUP_BARS,
)
from .indicators import (
    compute_features as compute_features,
)
from .normalization import FeatureNormalizer as FeatureNormalizer
