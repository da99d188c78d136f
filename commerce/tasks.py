"""Periodic jobs of orders (beat schedule in config/settings.py). Thin and idempotent."""

from celery import shared_task

from commerce.services import group_buys, orders


@shared_task(name="commerce.expire_unpaid_orders")
def expire_unpaid_orders() -> int:
    """Cancel orders past their payment window; their stock and flash-sale units come back once."""
    return orders.orders_expire()


@shared_task(name="commerce.complete_shipped_orders")
def complete_shipped_orders() -> int:
    """Complete orders shipped longer ago than their brand's auto-complete days."""
    return orders.orders_complete_shipped()


@shared_task(name="commerce.close_expired_groups")
def close_expired_groups() -> dict:
    """Close group buys past their deadline; each paid member of a failed group is refunded once."""
    return group_buys.groups_close_expired()
