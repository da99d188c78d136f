"""Issue 22 on the viewer's page: a coupon dropped from the console is claimed and paid with at
checkout, and Buy follows the room's sale rule live (off with the reason while paused, back on
resume, off once the show has ended with no replay). A module of its own: it pauses and ends the
demo's live room, so it has a live server of its own."""

import pytest
from playwright.sync_api import expect

from tests.browser import test_live_room
from tests.browser.test_live_room import live_console, live_viewer

show = test_live_room.show  # the same fixture: the demo's live room, with the console's API at hand

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def push(show, name):
    show["api"]("POST", f"/rooms/{show['room']['id']}/push", json={"product_id": show["products"][name]})


def test_a_dropped_coupon_is_claimed_and_paid_with(open_page, show):
    console = live_console(open_page, show)
    viewer = live_viewer(open_page, show)
    push(show, "Leather tote")  # ¥899.00
    expect(viewer.locator("#product-name")).to_have_text("Leather tote")

    # The drop form lists only what a drop accepts: its default choice drops (before: a store's
    # own coupon, refused with 409).
    form = console.locator("#coupon-drop")
    expect(form.locator("select[name=template_id] option")).not_to_have_count(0)
    options = form.locator("select[name=template_id] option").all_inner_texts()
    assert not any("in store" in option for option in options), options
    form.locator("select[name=template_id]").select_option(label="Live-room 10% off")
    form.locator("input[name=quantity]").fill("5")
    form.locator("button[type=submit]").click()
    expect(console.locator("#action-error")).to_be_hidden()

    drop = viewer.locator(".coupon:not(.lottery)", has_text="Live-room 10% off")
    expect(drop).to_be_visible()
    drop.get_by_role("button", name="领取").click()
    expect(drop.get_by_role("button")).to_have_text("已领取 ✓")

    viewer.click("#buy")
    # The claimed coupon applies and is chosen, with its discount: 10 % of ¥899.00, capped at ¥50.00.
    expect(viewer.locator("#coupon")).to_contain_text("Live-room 10% off — 减 ¥50.00")
    expect(viewer.locator("#coupon-discount")).to_have_text("优惠 -¥50.00，商品金额 ¥899.00 → ¥849.00")
    viewer.click("#pay")
    expect(viewer.locator("#order-status")).to_have_attribute("data-status", "paid")
    expect(viewer.locator("#order-status")).to_contain_text("实付 ¥849.00（Live-room 10% off -¥50.00）")

    # Used: the next checkout no longer offers it.
    viewer.click("#checkout button[value=cancel]")
    viewer.click("#buy")
    expect(viewer.locator("#coupon")).not_to_contain_text("Live-room 10% off")
    assert not viewer.js_errors and not console.js_errors


def test_buy_follows_the_rooms_sale_rule_live(open_page, show):
    room = show["room"]["id"]
    push(show, "Wool coat")
    viewer = live_viewer(open_page, show)
    expect(viewer.locator("#product-name")).to_have_text("Wool coat")
    expect(viewer.locator("#buy")).to_be_enabled()
    expect(viewer.locator("#buy-reason")).to_be_hidden()

    show["api"]("POST", f"/rooms/{room}/pause")
    expect(viewer.locator("#buy")).to_be_disabled()
    expect(viewer.locator("#buy-reason")).to_have_text("直播暂停中，恢复后可购买")

    show["api"]("POST", f"/rooms/{room}/resume")
    expect(viewer.locator("#buy")).to_be_enabled()
    expect(viewer.locator("#buy-reason")).to_be_hidden()

    # A show with no replay sells nothing once it has ended (with a replay, its products would).
    show["api"]("PATCH", f"/rooms/{room}", json={"replay_enabled": False})
    show["api"]("POST", f"/rooms/{room}/end")
    expect(viewer.locator("#buy")).to_be_disabled()
    expect(viewer.locator("#buy-reason")).to_have_text("直播已结束，商品已停售")
    viewer.reload()  # and so from a fresh load
    viewer.wait_for_function("window.siyuViewer && window.siyuViewer.state.room")
    expect(viewer.locator("#buy")).to_be_disabled()
    expect(viewer.locator("#buy-reason")).to_have_text("直播已结束，商品已停售")
    assert not viewer.js_errors
