"""Customer.io Track API limits that the client and the delivery packer stay within.

Sources:

- `/api/v2/batch` "must be smaller than 500kb" and each item "32kb or smaller";
  `/api/v2/entity` "must be smaller than 32kb" (Track API reference, operations `batch` and
  `entity`: https://docs.customer.io/api/track/, OpenAPI https://docs.customer.io/files/journeys-track.json).
  Customer.io does not say whether a kb is 1000 or 1024 bytes, so we take the stricter reading:
  a batch body is at most 499,999 bytes, an item and an entity body at most 32,000 bytes (the
  entity's "smaller than" makes it 31,999);
- identifiers ("Maximum length of Customer ID: 150 bytes", https://docs.customer.io/api/track/);
- at most 300 attributes per call, attribute names up to 150 bytes and values up to 1000 bytes,
  event names up to 100 bytes and event data up to 100,000 bytes
  (https://docs.customer.io/journeys/invalid-api-requests).
"""

from __future__ import annotations

MAX_BATCH_BYTES = 499_999  # largest /api/v2/batch body we send
MAX_ITEM_BYTES = 32_000  # largest batch item, as compact JSON
MAX_ENTITY_BYTES = 31_999  # largest /api/v2/entity body
MAX_IDENTIFIER_BYTES = 150
MAX_ATTRIBUTES = 300
MAX_ATTRIBUTE_NAME_BYTES = 150
MAX_ATTRIBUTE_VALUE_BYTES = 1000
MAX_EVENT_NAME_BYTES = 100
MAX_EVENT_DATA_BYTES = 100_000
