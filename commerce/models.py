from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from tenants.scoping import BrandScopedModel


class Product(BrandScopedModel):
    """An entry of the brand's product library (商品库). Prices are integer fen.

    Like WeChat's live goods library, a product is audited before it may go into a room, and
    shows its price one of three ways: fixed (``price``), a range (``price`` to ``price2``) or a
    discount (was ``price``, now ``price2``).
    """

    class Status(models.TextChoices):
        ON_SHELF = "on_shelf"
        OFF_SHELF = "off_shelf"
        ARCHIVED = "archived"

    class AuditStatus(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    class PriceType(models.TextChoices):
        FIXED = "fixed"
        RANGE = "range"
        DISCOUNT = "discount"

    name = models.CharField(max_length=60)
    category = models.CharField(max_length=50, blank=True)
    images = models.JSONField(default=list, blank=True, help_text="Image URLs; the first is the cover.")
    description = models.TextField(blank=True, max_length=5000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OFF_SHELF)
    audit_status = models.CharField(max_length=16, choices=AuditStatus.choices, default=AuditStatus.PENDING)
    audit_reason = models.CharField(max_length=200, blank=True)
    price_type = models.CharField(max_length=16, choices=PriceType.choices, default=PriceType.FIXED)
    price = models.PositiveIntegerField(help_text="Fen. Fixed price, range low, or original price.")
    price2 = models.PositiveIntegerField(null=True, blank=True, help_text="Fen. Range high, or discounted price.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["brand", "status", "audit_status"]),
            models.Index(fields=["brand", "category"]),
        ]
        constraints = [
            models.CheckConstraint(
                name="product_price_shape",
                condition=(
                    Q(price_type="fixed", price2__isnull=True)
                    | Q(price_type="range", price2__gt=F("price"))
                    | Q(price_type="discount", price2__lt=F("price"))
                ),
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def cover_url(self) -> str:
        return self.images[0] if self.images else ""

    @property
    def is_sellable(self) -> bool:
        return self.status == self.Status.ON_SHELF and self.audit_status == self.AuditStatus.APPROVED


class Sku(BrandScopedModel):
    """A sellable variant of a product, with its own price and stock."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus")
    code = models.CharField(max_length=64, help_text="Unique within the brand.")
    spec = models.CharField(max_length=100, blank=True, help_text="E.g. 'Red / XL'.")
    price = models.PositiveIntegerField(validators=[MinValueValidator(1)], help_text="Fen.")
    stock = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="sku_brand_code_uniq"),
            models.CheckConstraint(name="sku_price_positive", condition=Q(price__gte=1)),
        ]
        indexes = [models.Index(fields=["brand", "product"])]
        ordering = ["id"]

    def __str__(self):
        return f"{self.product_id}:{self.code}"
