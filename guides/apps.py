from django.apps import AppConfig


class GuidesConfig(AppConfig):
    name = "guides"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from commerce import hooks as commerce_hooks
        from guides.services import commission

        commerce_hooks.ORDER_PAID.subscribe(commission.on_order_paid)
        commerce_hooks.ORDER_REFUNDED.subscribe(commission.on_order_refunded)
