from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data (``manage.py seed_demo``): the top layer, the one app that may import every
    other, so that the apps below it import none of it (README, "Layers")."""

    name = "demo"
    verbose_name = "Demo data"
