"""The two pages as Django serves them: static shells that the API and websocket fill in."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from livestream.models import LiveRoom
from tests.commerce.conftest import create_room

pytestmark = pytest.mark.django_db


def test_the_viewer_page_names_the_room_and_its_mini_program(client, brand):
    room = create_room(brand)

    page = client.get(f"/live/rooms/{room.pk}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-room-id="{room.pk}"' in html and f'data-appid="{brand.appid}"' in html
    assert "web/viewer.js" in html and 'name="viewport"' in html
    assert room.title not in html  # the room itself comes from the API


def test_the_viewer_page_of_a_missing_room_is_not_found(client):
    assert client.get("/live/rooms/999999/").status_code == 404


def test_the_console_page_reveals_nothing_before_login(client, brand):
    room = create_room(brand, title="Secret launch")

    page = client.get(f"/console/rooms/{room.pk}/live")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Secret launch" not in html and brand.appid not in html
    assert "web/console.js" in html


def test_the_pages_static_files_are_served(client):
    for name in ("api.js", "viewer.js", "console.js", "style.css"):
        response = client.get(f"/static/web/{name}")
        assert response.status_code == 200, name
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 500, name


def test_demo_pages_prints_both_pages_and_the_admin_with_their_logins():
    call_command("seed_demo", stdout=StringIO())
    out = StringIO()
    call_command("demo_pages", "--base", "http://example.test:9000/", stdout=out)

    live = LiveRoom.unscoped.get(brand__slug="demo", title="Autumn new arrivals")
    text = out.getvalue()
    assert f"http://example.test:9000/live/rooms/{live.pk}/" in text
    assert f"http://example.test:9000/console/rooms/{live.pk}/live" in text
    assert "http://example.test:9000/admin/" in text
    assert "demo-operator / siyu-demo-2026" in text


def test_demo_pages_without_demo_data_says_what_to_run():
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("demo_pages")
