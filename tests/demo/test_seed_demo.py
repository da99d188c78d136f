"""The demo runs offline: its pictures are drawn locally (Pillow), with the names on them."""

import io
import socket

import pytest
from django.core.management import call_command
from django.test import Client
from PIL import Image

from commerce.models import Product
from livestream.models import LiveRoom

pytestmark = pytest.mark.django_db


def test_the_demos_pictures_are_drawn_locally_and_served(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = str(tmp_path)

    def no_network(*args, **kwargs):
        raise AssertionError("seed_demo reached for the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # again: nothing redrawn, nothing added

    urls = [url for product in Product.unscoped.all() for url in product.images]
    urls += list(LiveRoom.unscoped.exclude(cover_image_url="").values_list("cover_image_url", flat=True))
    assert urls and all(url.startswith(f"{settings.SITE_URL}/media/demo/") for url in urls), urls
    for url in set(urls):
        path = tmp_path / url.removeprefix(f"{settings.SITE_URL}/media/")
        picture = Image.open(path)
        assert picture.format == "PNG" and picture.size in ((600, 600), (750, 1000))
        assert len(picture.convert("L").getcolors(maxcolors=1 << 16)) > 2  # a name is written on it
    if settings.SERVE_MEDIA:  # the embedded default serves them itself
        response = Client().get(urls[0].removeprefix(settings.SITE_URL))
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
