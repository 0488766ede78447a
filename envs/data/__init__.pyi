"""The names `envs.data` exports, loaded on first use (see its `__init__.py`)."""

from .bar_size import infer_bar_size as infer_bar_size
from .contract import format_date as format_date
from .dataset import (
    PreparedMarket as PreparedMarket,
)
from .dataset import (
    assemble_market as assemble_market,
)
from .dataset import (
    market_data_hash as market_data_hash,
)
from .dataset import (
    prepare_market as prepare_market,
)
from .describe import (
    MarketDescription as MarketDescription,
)
from .describe import (
    describe_market as describe_market,
)
from .market_arrays import MarketArrays as MarketArrays
from .sources import (
    SOURCE_NAMES as SOURCE_NAMES,
)
from .sources import (
    DateLike as DateLike,
)
from .sources import (
    canonical_source as canonical_source,
)
from .sources import (
    load_market_data as load_market_data,
)
from .sources import (
    parse_date_option as parse_date_option,
)
from .splits import (
    SPLIT_NAMES as SPLIT_NAMES,
)
from .splits import (
    SplitName as SplitName,
)
from .splits import (
    Splits as Splits,
)
