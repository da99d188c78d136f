"""The running surface: health check, OpenAPI schema and docs, settings from the environment."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_healthz_checks_database_and_cache(anon):
    response = anon.get("/healthz?format=json")
    assert response.status_code == 200, response.content
    checks = " ".join(response.json())
    assert "Database" in checks and "Cache" in checks
    if settings.REDIS_URL:
        assert "Redis" in checks


@pytest.mark.django_db
def test_healthz_answers_a_browser_with_its_page(anon):
    response = anon.get("/healthz", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Database" in response.content


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served(anon):
    schema = anon.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/mp/login", "/api/v1/staff/login", "/api/v1/platform/brands"} <= set(paths)
    assert schema.json()["components"]["securitySchemes"].keys() >= {"customerToken", "staffToken"}
    assert anon.get("/api/docs/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_load_nothing_from_the_internet(anon, page):
    html = anon.get(page).content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and not [url for url in assets if url.startswith(("http:", "https:", "//"))], assets
    for url in assets:
        if url.startswith("/static/"):
            response = anon.get(url)
            assert response.status_code == 200, url
            b"".join(response.streaming_content) if response.streaming else response.content


def test_openapi_schema_generates_without_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", os.devnull],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_embedded_default_or_servers_as_the_environment_says():
    if os.environ.get("DATABASE_URL"):
        assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    else:
        assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    if os.environ.get("REDIS_URL"):
        assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
        assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
        assert settings.CELERY_BROKER_URL.startswith("redis://")
    else:
        assert settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")
        assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
        assert settings.CELERY_BROKER_URL == "filesystem://"


def test_check_deploy_with_production_environment_reports_no_errors():
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": "postgres://siyu@127.0.0.1:5432/siyu",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "SECRET_KEY": "k7#Qp2!vZ9@mL4$wR8^tY1&uI6*oP3(aS5)dF0_gH-jK=lX+cV{bN}",
        "ALLOWED_HOSTS": "siyu.example.com",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_HSTS_SECONDS": "31536000",
        "WECHAT_BACKEND": "wechat",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
