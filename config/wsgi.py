"""WSGI entry: gunicorn serves the REST API and admin in production (DESIGN §11)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
