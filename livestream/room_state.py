"""What a room's cached detail depends on (issue #20, room entry).

This is a do-nothing stand-in on the ``buy`` branch: the room-entry branch writes the real
module, which bumps the version of every room that shows these rooms or SKUs once the current
transaction commits, and the lead keeps that one at merge. Commerce calls it only when a SKU's
stock crosses zero (an order takes the last unit; units come back to a SKU at zero).
"""


def rooms_changed_on_commit(*, brand_id: int, room_ids=(), sku_ids=()) -> None:
    """Stub: the cached detail of the rooms named, and of the rooms listing these SKUs, is stale
    once the current transaction commits. Does nothing here."""
