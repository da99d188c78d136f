from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class TenantsConfig(AppConfig):
    name = "tenants"
    default = True

    def ready(self):
        from tenants import schema  # noqa: F401  (OpenAPI descriptions of the auth schemes)


class SiyuAdminConfig(admin_apps.AdminConfig):
    """Django's admin with Siyu's site: brand staff work inside one brand (tenants.admin_site)."""

    default = False  # named explicitly in INSTALLED_APPS; TenantsConfig is this module's default
    default_site = "tenants.admin_site.SiyuAdminSite"
