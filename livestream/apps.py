from django.apps import AppConfig


class LivestreamConfig(AppConfig):
    name = "livestream"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from commerce import hooks as commerce_hooks
        from livestream import room_state

        commerce_hooks.PRODUCTS_CHANGED.subscribe(room_state.on_products_changed)
