"""Stores and guides: who brought a customer, who is credited with their orders, and what they earn.

One module per domain: ``stores`` (stores, guides, CSV import), ``shares`` (share codes, visits,
bindings and order attribution), ``commission`` (rules, the ledger), ``settlement`` (payouts) and
``leaderboard`` (campaigns and the hourly ranking).
"""

from guides.services.shares import NOBODY, Attribution, attribute_order, attribution_for

__all__ = ["NOBODY", "Attribution", "attribute_order", "attribution_for"]
