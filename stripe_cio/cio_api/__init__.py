"""Access to Customer.io's Track API: the v2 batch and entity endpoints, limits and results."""

from .client import BATCH_PATH, ENTITY_PATH, REGION_PATH, CustomerIOClient
from .limits import (
    MAX_ATTRIBUTE_NAME_BYTES,
    MAX_ATTRIBUTE_VALUE_BYTES,
    MAX_ATTRIBUTES,
    MAX_BATCH_BYTES,
    MAX_ENTITY_BYTES,
    MAX_EVENT_DATA_BYTES,
    MAX_EVENT_NAME_BYTES,
    MAX_IDENTIFIER_BYTES,
    MAX_ITEM_BYTES,
)
from .results import BatchResult, CustomerIOClientStats, ItemError, batch_body, batch_body_size

__all__ = [
    "BATCH_PATH",
    "ENTITY_PATH",
    "MAX_ATTRIBUTES",
    "MAX_ATTRIBUTE_NAME_BYTES",
    "MAX_ATTRIBUTE_VALUE_BYTES",
    "MAX_BATCH_BYTES",
    "MAX_ENTITY_BYTES",
    "MAX_EVENT_DATA_BYTES",
    "MAX_EVENT_NAME_BYTES",
    "MAX_IDENTIFIER_BYTES",
    "MAX_ITEM_BYTES",
    "REGION_PATH",
    "BatchResult",
    "CustomerIOClient",
    "CustomerIOClientStats",
    "ItemError",
    "batch_body",
    "batch_body_size",
]
