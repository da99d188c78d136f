from django.conf import settings
from django.db import models

from tenants.scoping import BrandScopedModel


class Store(BrandScopedModel):
    """An offline store (门店) of the brand."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    code = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    address = models.CharField(max_length=200, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_stores"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="store_brand_code_uniq")]
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Guide(BrandScopedModel):
    """A promoter: a store guide (导购), agent, employee or customer sharer (KOC)."""

    class Kind(models.TextChoices):
        STORE_GUIDE = "store_guide"
        AGENT = "agent"
        EMPLOYEE = "employee"
        KOC = "koc"

    class Status(models.TextChoices):
        ACTIVE = "active"
        LEFT = "left"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="guide_profiles")
    name = models.CharField(max_length=64)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.PROTECT, related_name="guides")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STORE_GUIDE)
    leader = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="team", help_text="Team leader (团队长)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "user"], name="guide_brand_user_uniq")]
        indexes = [models.Index(fields=["brand", "store"])]

    def __str__(self):
        return self.name


class Binding(BrandScopedModel):
    """A customer's binding (绑定) to the guide, or only the store, that brought them.

    One row per customer: the brand's binding rule (``Brand.binding_mode`` and
    ``binding_protection_days``) decides when another share takes the customer over.
    """

    customer = models.OneToOneField("tenants.Customer", on_delete=models.CASCADE, related_name="binding")
    guide = models.ForeignKey(Guide, null=True, blank=True, on_delete=models.SET_NULL, related_name="bindings")
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="bindings")
    bound_at = models.DateTimeField()
    protected_until = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["brand", "guide", "-bound_at"]), models.Index(fields=["brand", "store"])]

    def __str__(self):
        return f"{self.customer_id} → {self.guide or self.store}"
