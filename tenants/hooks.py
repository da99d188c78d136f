"""Named hooks: how a lower app's action has effects in the apps above it (README, "Layers").

The apps depend one way (``.importlinter``): an app imports only from the layers below it. When
an action of a lower app must change something above it (an order paid credits its guide's
commission; a refund claws it back; a cancel gives its coupon back; a sold-out SKU changes the
rooms that show it), the lower app does not call up. It announces a named hook with a typed
payload, and the higher app subscribes to that hook in its ``AppConfig.ready()``.

Every hook is declared once, with :func:`define`, in its owner's ``hooks.py``; this module is the
one registry of them all and of their subscribers (:func:`catalogue`, listed in the README and
checked by tests/tenants/test_hooks.py). A hook says when its subscribers run:

- ``IN_TRANSACTION``: at once, inside the announcing action's transaction, in subscription order.
  For effects that must commit or roll back with the action (money and quotas: a commission
  accrued for a payment that rolled back, or a coupon released by a cancel that did not happen,
  would be wrong), and that the action's idempotency covers (an order is marked paid once, so
  "order paid" is announced once).
- ``ON_COMMIT``: after the transaction commits (at once outside one), through
  ``transaction.on_commit``, in the order announced. For effects that may only follow a commit:
  what viewers see (room versions, broadcasts), caches.

A subscriber takes the payload and nothing else. Subscribing twice is refused, as is an announce
whose payload is not the hook's type; no hook is created outside :func:`define`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.db import transaction

P = TypeVar("P")

IN_TRANSACTION = "in transaction"
ON_COMMIT = "on commit"


@dataclass(eq=False)
class Hook(Generic[P]):
    name: str
    owner: str
    payload: type
    when: str
    doc: str
    subscribers: list[Callable[[P], object]] = field(default_factory=list)

    def subscribe(self, subscriber: Callable[[P], object]) -> Callable[[P], object]:
        """Run ``subscriber(payload)`` on each announce (usable as a decorator)."""
        if subscriber in self.subscribers:
            raise ValueError(f"{_name(subscriber)} already subscribes to {self.name!r}")
        self.subscribers.append(subscriber)
        return subscriber

    def announce(self, payload: P) -> None:
        """The owner's action happened: run the subscribers now (``IN_TRANSACTION``) or once the
        current transaction commits (``ON_COMMIT``)."""
        if not isinstance(payload, self.payload):
            raise TypeError(f"hook {self.name!r} takes a {self.payload.__name__}, not {type(payload).__name__}")
        if self.when == IN_TRANSACTION:
            self._run(payload)
        else:
            transaction.on_commit(lambda: self._run(payload))

    def _run(self, payload: P) -> None:
        for subscriber in list(self.subscribers):
            subscriber(payload)


_REGISTRY: dict[str, Hook] = {}


def define(name: str, *, owner: str, payload: type, when: str, doc: str) -> Hook:
    """Declare the hook ``name`` of app ``owner`` (once; in the owner's ``hooks.py``)."""
    if name in _REGISTRY:
        raise ValueError(f"hook {name!r} is defined already (by {_REGISTRY[name].owner})")
    if when not in (IN_TRANSACTION, ON_COMMIT):
        raise ValueError(f"hook {name!r}: when is {IN_TRANSACTION!r} or {ON_COMMIT!r}")
    if not dataclasses.is_dataclass(payload):
        raise TypeError(f"hook {name!r}: the payload is a dataclass (typed fields)")
    hook = Hook(name=name, owner=owner, payload=payload, when=when, doc=doc)
    _REGISTRY[name] = hook
    return hook


def get(name: str) -> Hook:
    return _REGISTRY[name]


def catalogue() -> list[dict]:
    """Every hook with its owner, payload fields, timing and subscribers (``module.function``)."""
    return [
        {
            "name": hook.name,
            "owner": hook.owner,
            "when": hook.when,
            "payload": {f.name: _type_name(f.type) for f in dataclasses.fields(hook.payload)},
            "doc": hook.doc,
            "subscribers": [_name(s) for s in hook.subscribers],
        }
        for hook in sorted(_REGISTRY.values(), key=lambda h: h.name)
    ]


def _name(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _type_name(annotation) -> str:
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))
