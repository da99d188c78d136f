"""Stores and guides: who brought a customer, and who is credited with their orders."""

from dataclasses import dataclass

from guides.models import Guide, Store
from tenants.models import Brand, Customer


@dataclass(frozen=True)
class Attribution:
    """The guide, their store and their team leader credited with an order."""

    guide: Guide | None = None
    store: Store | None = None
    leader: Guide | None = None


NOBODY = Attribution()


def attribute_order(*, brand: Brand, customer: Customer, scene: str = "") -> Attribution:
    """The one function that decides an order's attribution, at placement, once.

    Share codes (a scene) and customer–guide bindings arrive with the guides issue; until a
    scene or a binding can name a guide, an order is credited to nobody.
    """
    return NOBODY
