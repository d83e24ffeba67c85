"""Per-person profile attributes computed with pandas from the ledger (docs/attributes.md).

`load_frames` reads the ledger tables the attributes need; `compute_attributes` turns them into
one DataFrame with a row per Customer.io person, purely; `attribute_dict` gives a row as the
attributes to send.
"""

from .compute import (
    ATTRIBUTES,
    RANK_ATTRIBUTES,
    AttributeResult,
    combined_rank_cuts,
    compute_attributes,
    rescored,
)
from .config import AttributeSettings, attribute_settings_from_env
from .frames import FRAME_COLUMNS, LedgerFrames, attribute_dict, attribute_dicts, frame_from_records
from .load import LedgerReadError, load_frames
from .money import exponent
from .persons import SKIP_REASONS, SkipCounts
from .ranks import RecordedRanks, record_rank_cuts, recorded_rank_cuts
from .rfm import SEGMENTS, RankCuts
from .scatter import partition_file, partition_frames, partition_of, scatter
from .selection import PersonRows, rows_of
from .subscriptions import INTERVAL_TWELFTHS, MRR_STATUSES

__all__ = [
    "ATTRIBUTES",
    "FRAME_COLUMNS",
    "INTERVAL_TWELFTHS",
    "MRR_STATUSES",
    "RANK_ATTRIBUTES",
    "SEGMENTS",
    "SKIP_REASONS",
    "AttributeResult",
    "AttributeSettings",
    "LedgerFrames",
    "LedgerReadError",
    "PersonRows",
    "RankCuts",
    "RecordedRanks",
    "SkipCounts",
    "attribute_dict",
    "attribute_dicts",
    "attribute_settings_from_env",
    "combined_rank_cuts",
    "compute_attributes",
    "exponent",
    "frame_from_records",
    "load_frames",
    "partition_file",
    "partition_frames",
    "partition_of",
    "record_rank_cuts",
    "recorded_rank_cuts",
    "rescored",
    "rows_of",
    "scatter",
]
