"""The web admin in a real browser: a brand operator logs in and sees only their brand."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db]  # django_db: a test database to serve


def test_a_brand_operator_sees_only_their_brands_objects(open_page, live_asgi):
    rival_token = live_asgi.staff_token("rival-operator")
    rival_customers = live_asgi.api("GET", "/api/v1/console/customers", token=rival_token, brand="rival")["results"]
    rival_room = live_asgi.api("GET", "/api/v1/console/rooms", token=rival_token, brand="rival")["results"][0]
    page = open_page("/admin/", name="admin")

    page.fill("#id_username", "demo-operator")
    page.fill("#id_password", "siyu-demo-2026")
    page.click("input[type=submit]")
    expect(page.locator("#content h1")).to_have_text("直播电商管理")  # the admin speaks Chinese by default
    expect(page.locator("body")).to_contain_text("Siyu Demo Fashion")
    expect(page.locator("body")).not_to_contain_text("Rival Tea Co.")

    page.goto(live_asgi.url + "/admin/tenants/customer/")
    expect(page.locator("#result_list")).to_contain_text("demo-demo-1")
    expect(page.locator("#result_list tbody tr")).to_have_count(5)  # seed_demo's five per brand
    expect(page.locator("#result_list")).not_to_contain_text("demo-rival-")

    # Another brand's object is "not found", as if it did not exist.
    page.goto(live_asgi.url + f"/admin/tenants/customer/{rival_customers[0]['id']}/change/")
    expect(page.locator(".messagelist")).to_contain_text("不存在")  # "doesn’t exist", in the admin’s Chinese
    page.goto(live_asgi.url + f"/admin/livestream/liveroom/{rival_room['id']}/change/")
    expect(page.locator(".messagelist")).to_contain_text("不存在")  # "doesn’t exist", in the admin’s Chinese
    assert "/admin/" in page.url and "/change/" not in page.url
