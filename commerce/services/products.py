"""The product library (商品库): products, their SKUs and stock.

Field rules live on the models (validators, ``Product.clean``) so the admin's forms apply them
too; here they are run before every save and turned into domain errors. State rules (audit,
shelf, archive) and stock live here. Writes to a product lock its row first, so an audit and an
edit, or an archive and a SKU change, never interleave.
"""

from typing import Literal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError
from django.utils import timezone

from commerce.hooks import products_changed
from commerce.models import MAX_STOCK, Product, Sku
from commerce.selectors import sku_get
from commerce.services import stock_gate
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand

# A change to these sends an audited product back to the audit queue; a price change does not.
PRODUCT_CONTENT_FIELDS = frozenset({"name", "category", "images", "description"})
PRODUCT_PRICE_FIELDS = frozenset({"price_type", "price", "price2"})
PRODUCT_EDITABLE_FIELDS = PRODUCT_CONTENT_FIELDS | PRODUCT_PRICE_FIELDS
SKU_EDITABLE_FIELDS = frozenset({"spec", "price", "is_active"})

# Rule codes of Product.clean() that the API answers as they are, instead of a plain ``invalid``.
_RULE_CODES = frozenset({"price_range_inverted", "discount_not_lower"})


# --- products ---------------------------------------------------------------------------------


@transaction.atomic
def product_create(
    *,
    brand: Brand,
    name: str,
    category: str = "",
    images=(),
    description: str = "",
    price_type: str,
    price: int,
    price2: int | None = None,
    skus=(),
) -> Product:
    """A new product, pending audit and off the shelf, with its SKUs (all or nothing).

    ``skus`` holds dicts with ``code``, ``price`` and optionally ``spec`` and ``stock``.
    """
    product = Product(
        brand=brand,
        name=_stripped(name),
        category=_stripped(category),
        images=_listed(images),
        description=description,
        price_type=price_type,
        price=price,
        price2=price2,
    )
    _validate_product(product)
    _ensure_codes_unique_in_request(skus)
    product.save()
    for position, values in enumerate(skus):
        try:
            _insert_sku(brand=brand, product=product, **values)
        except (InvalidInput, Conflict) as exc:
            raise type(exc)(exc.code, exc.message, fields={"skus": {position: exc.fields}}) from exc
    return product


@transaction.atomic
def product_update(*, brand: Brand, product: Product, **fields) -> Product:
    """Change content (name, category, images, description) or price; only what differs is written.

    A content change to an audited product (approved or rejected) puts it back in the audit
    queue: the reviewers approved what it said, not what it says now.
    """
    _refuse_unknown_fields("product_update", fields, PRODUCT_EDITABLE_FIELDS)
    product = _lock_product(brand=brand, product_id=product.pk)
    _ensure_not_archived(product)
    fields = _normalized_product_fields(fields)
    if fields.get("price_type") == Product.PriceType.FIXED and "price2" not in fields:
        fields["price2"] = None  # switching to a fixed price drops the second price
    changed = {field: value for field, value in fields.items() if getattr(product, field) != value}
    if not changed:
        return product
    for field, value in changed.items():
        setattr(product, field, value)
    update_fields = [*changed, "updated_at"]
    if PRODUCT_CONTENT_FIELDS & changed.keys() and product.audit_status != Product.AuditStatus.PENDING:
        product.audit_status, product.audit_reason = Product.AuditStatus.PENDING, ""
        update_fields += ["audit_status", "audit_reason"]
    _validate_product(product)
    product.save(update_fields=update_fields)
    _rooms_changed(product)
    return product


@transaction.atomic
def product_set_shelf(*, brand: Brand, product: Product, on_shelf: bool) -> Product:
    """Put the product on or take it off the shelf; already there is fine."""
    product = _lock_product(brand=brand, product_id=product.pk)
    _ensure_not_archived(product)
    status = Product.Status.ON_SHELF if on_shelf else Product.Status.OFF_SHELF
    if product.status != status:
        product.status = status
        product.save(update_fields=["status", "updated_at"])
        _rooms_changed(product)
    return product


@transaction.atomic
def product_audit(*, brand: Brand, product: Product, approve: bool, reason: str = "") -> Product:
    """Approve or reject a pending product; a rejection says why."""
    reason = _stripped(reason)
    if not approve and not reason:
        raise InvalidInput("reason_required", "Say why the product is rejected.", fields={"reason": ["Required."]})
    max_reason = Product._meta.get_field("audit_reason").max_length
    if len(reason) > max_reason:
        raise InvalidInput(fields={"reason": [f"At most {max_reason} characters."]})
    product = _lock_product(brand=brand, product_id=product.pk)
    _ensure_not_archived(product)
    if product.audit_status != Product.AuditStatus.PENDING:
        raise Conflict(
            "not_pending",
            f"Only a pending product can be audited; this one is {product.audit_status}.",
            fields={"audit_status": product.audit_status},
        )
    product.audit_status = Product.AuditStatus.APPROVED if approve else Product.AuditStatus.REJECTED
    product.audit_reason = reason
    product.save(update_fields=["audit_status", "audit_reason", "updated_at"])
    _rooms_changed(product)
    return product


@transaction.atomic
def product_archive(*, brand: Brand, product: Product) -> Product:
    """Retire the product for good: off every shelf, no more edits. Archiving twice changes nothing."""
    product = _lock_product(brand=brand, product_id=product.pk)
    if product.status != Product.Status.ARCHIVED:
        product.status, product.archived_at = Product.Status.ARCHIVED, timezone.now()
        product.save(update_fields=["status", "archived_at", "updated_at"])
        _rooms_changed(product)
    return product


@transaction.atomic
def product_delete(*, brand: Brand, product: Product) -> Literal["deleted", "archived"]:
    """Delete a product that no order mentions; archive one that an order does.

    Orders reference products and SKUs with ``on_delete=PROTECT``; the delete itself asks the
    database who refers to the product, so there is no separate check that could go stale.
    """
    product = _lock_product(brand=brand, product_id=product.pk)
    _rooms_changed(product)  # before the delete takes its listings with it
    try:
        with transaction.atomic():
            product.delete()
    except ProtectedError:
        product_archive(brand=brand, product=product)
        return "archived"
    return "deleted"


# --- SKUs and stock ---------------------------------------------------------------------------


@transaction.atomic
def sku_create(*, brand: Brand, product: Product, code: str, spec: str = "", price: int, stock: int = 0) -> Sku:
    product = _lock_product(brand=brand, product_id=product.pk)
    _ensure_not_archived(product)
    sku = _insert_sku(brand=brand, product=product, code=code, spec=spec, price=price, stock=stock)
    _rooms_changed(product)
    return sku


@transaction.atomic
def sku_update(*, brand: Brand, sku: Sku, **fields) -> Sku:
    """Change a SKU's spec, price or whether it is sold. Stock changes go through ``sku_adjust_stock``."""
    _refuse_unknown_fields("sku_update", fields, SKU_EDITABLE_FIELDS)
    product = _lock_product(brand=brand, product_id=sku.product_id)
    _ensure_not_archived(product)
    sku = sku_get(brand=brand, sku_id=sku.pk)
    if "spec" in fields:
        fields["spec"] = _stripped(fields["spec"])
    changed = {field: value for field, value in fields.items() if getattr(sku, field) != value}
    if not changed:
        return sku
    for field, value in changed.items():
        setattr(sku, field, value)
    _validate_sku(sku)
    sku.save(update_fields=list(changed))  # never ``stock``: that column only moves by delta
    products_changed(brand_id=brand.pk, sku_ids=[sku.pk])
    return sku


@transaction.atomic
def sku_adjust_stock(*, brand: Brand, sku: Sku, delta: int) -> Sku:
    """Add ``delta`` (negative to take away) to the SKU's stock, in one conditional UPDATE.

    The database decides whether the stock suffices, so parallel adjustments and sales never
    take it below zero; nothing is read before the write.
    """
    _require_integers(delta=delta)
    if delta == 0 or abs(delta) > MAX_STOCK:
        raise InvalidInput(fields={"delta": [f"A non-zero change of at most {MAX_STOCK} either way."]})
    # stock + delta BETWEEN 0 AND MAX_STOCK, written on the bare column so an index could serve it.
    moved = Sku.objects.filter(brand=brand, pk=sku.pk, stock__gte=-delta, stock__lte=MAX_STOCK - delta).update(
        stock=F("stock") + delta
    )
    current = sku_get(brand=brand, sku_id=sku.pk)
    if not moved:
        if delta < 0:
            raise Conflict(
                "insufficient_stock",
                f"Only {current.stock} in stock; cannot take {-delta}.",
                fields={"sku": current.pk, "stock": current.stock, "delta": delta},
            )
        raise Conflict(
            "stock_limit_exceeded",
            f"Stock would pass {MAX_STOCK}.",
            fields={"sku": current.pk, "stock": current.stock, "delta": delta},
        )
    stock_gate.units_changed_on_commit(brand_id=brand.pk, sku_units={sku.pk: delta}, sale_units={}, sign=1)
    if current.stock == 0 or current.stock == delta:  # sold out, or back in stock: rooms show it
        products_changed(brand_id=brand.pk, sku_ids=[sku.pk])
    return current


# --- helpers ----------------------------------------------------------------------------------


def _rooms_changed(product: Product) -> None:
    """The rooms that list the product show its card: their shared detail is rebuilt on commit."""
    products_changed(brand_id=product.brand_id, product_ids=[product.pk])


def _lock_product(*, brand: Brand, product_id) -> Product:
    product = Product.objects.select_for_update().filter(brand=brand, pk=product_id).first()
    if product is None:
        raise NotFound("not_found", "No such product.")
    return product


def _ensure_not_archived(product: Product) -> None:
    if product.status == Product.Status.ARCHIVED:
        raise Conflict(
            "product_archived", "The product is archived and can no longer change.", fields={"status": product.status}
        )


def _insert_sku(*, brand: Brand, product: Product, code, price, spec: str = "", stock: int = 0) -> Sku:
    sku = Sku(brand=brand, product=product, code=code, spec=_stripped(spec), price=price, stock=stock)
    _validate_sku(sku)
    try:
        with transaction.atomic():
            sku.save()
    except IntegrityError as exc:  # the code is taken, perhaps by a parallel request a moment ago
        raise _sku_code_taken(code) from exc
    return sku


def _sku_code_taken(code, fields=None) -> Conflict:
    message = f"The SKU code {code!r} is already used in this brand."
    return Conflict("sku_code_taken", message, fields=fields or {"code": ["Taken."]})


def _ensure_codes_unique_in_request(skus) -> None:
    seen = set()
    for position, values in enumerate(skus):
        code = values.get("code")
        if code in seen:
            raise _sku_code_taken(code, fields={"skus": {position: {"code": ["Used twice in this request."]}}})
        seen.add(code)


def _validate_product(product: Product) -> None:
    _require_integers(price=product.price, price2=product.price2)
    _full_clean(product)


def _validate_sku(sku: Sku) -> None:
    _require_integers(price=sku.price, stock=sku.stock)
    _full_clean(sku)


def _full_clean(obj) -> None:
    """Run the model's field and row rules; constraints are the database's to hold.

    Skipping ``validate_constraints`` saves a query per constraint, and lets a taken SKU code
    answer 409 from the unique index (the same answer a race gets) instead of a 400 here.
    """
    try:
        obj.full_clean(validate_constraints=False)
    except ValidationError as exc:
        raise _invalid_input(exc) from exc


def _invalid_input(exc: ValidationError) -> InvalidInput:
    errors = [error for field_errors in exc.error_dict.values() for error in field_errors]
    code = errors[0].code if len(errors) == 1 and errors[0].code in _RULE_CODES else "invalid"
    fields = exc.message_dict
    return InvalidInput(code, _first_message(fields), fields=fields)


def _first_message(fields: dict) -> str:
    field, messages = next(iter(fields.items()))
    return f"{field}: {messages[0]}"


def _require_integers(**values) -> None:
    """Money and counts are integers: no floats, numeric strings or booleans (DESIGN §7)."""
    wrong = {
        name: ["Must be an integer."]
        for name, value in values.items()
        if value is not None and (not isinstance(value, int) or isinstance(value, bool))
    }
    if wrong:
        raise InvalidInput(fields=wrong)


def _refuse_unknown_fields(service: str, fields: dict, editable: frozenset) -> None:
    unknown = sorted(set(fields) - editable)
    if unknown:
        raise TypeError(f"{service}() cannot change {', '.join(unknown)}")


def _normalized_product_fields(fields: dict) -> dict:
    normalized = dict(fields)
    for field in ("name", "category"):
        if field in normalized:
            normalized[field] = _stripped(normalized[field])
    if "images" in normalized:
        normalized["images"] = _listed(normalized["images"])
    return normalized


def _stripped(value):
    return value.strip() if isinstance(value, str) else value


def _listed(images):
    if images is None:
        return []
    return list(images) if isinstance(images, (list, tuple)) else images
