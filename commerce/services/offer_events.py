"""What the order state machine tells the offers built on it (group buys, bargains): one module for
orders to call, so orders need not know each offer."""

from commerce.services import bargains, group_buys


def order_payable(order) -> bool:
    return group_buys.order_payable(order) and bargains.order_payable(order)


def order_paid(order, paid_at) -> None:
    group_buys.order_paid(order, paid_at)
    bargains.order_paid(order, paid_at)


def order_cancelled(order) -> None:
    group_buys.order_cancelled(order)
    bargains.order_cancelled(order)


def check_shippable(order) -> None:
    group_buys.check_settled(order, "ship")
