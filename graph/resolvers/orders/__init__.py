"""Product orders (TMF622): a price preview, placing an order, cancelling an open one.

- :mod:`.quote`: an order's items checked and priced -- the quote, and what may be ordered;
- :mod:`.place`: placing an order, priced as quoted, at most once per idempotency key;
- :mod:`.cancel`: cancelling an order that is still open.
"""

from __future__ import annotations

from .cancel import CancelOrder, cancel_order
from .place import PlaceOrder, place_order
from .quote import (
    ACTIVE_PRODUCT,
    MAX_ITEMS,
    ORDER_OPEN,
    ItemAction,
    OrderLine,
    Quote,
    QuotedItem,
    QuotedPrice,
    describe,
    quote_order,
    sellable,
)

__all__ = [
    "ACTIVE_PRODUCT",
    "MAX_ITEMS",
    "ORDER_OPEN",
    "CancelOrder",
    "ItemAction",
    "OrderLine",
    "PlaceOrder",
    "Quote",
    "QuotedItem",
    "QuotedPrice",
    "cancel_order",
    "describe",
    "place_order",
    "quote_order",
    "sellable",
]
