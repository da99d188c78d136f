from django.apps import AppConfig


class CouponsConfig(AppConfig):
    name = "coupons"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from commerce import hooks as commerce_hooks
        from coupons import services

        commerce_hooks.ORDER_PAID.subscribe(services.on_order_paid)
        commerce_hooks.ORDER_CANCELLED.subscribe(services.on_order_cancelled)
