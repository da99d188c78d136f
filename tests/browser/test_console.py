"""The live console runs a whole show, in Chinese: products from the library into the room, their
order, live price and stock; lotteries, gift boxes, group buys and bargains with their live counts;
coupon drops with claimed / quota; the mute list; the push settings; the brand's rooms and (for the
platform operator) brands to move between; the brand's settings for its owner; error lines that
clear; the pinned comment shown once. Every control acts through the public console API, which the
tests read back; the viewer's side goes through its page or the mini-program API with its token."""

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_live_room import ROOM_TITLE, comment, live_viewer

pytestmark = [pytest.mark.browser, pytest.mark.django_db]  # django_db: a test database to serve

PASSWORD = "siyu-demo-2026"
ADDRESS = {
    "name": "Lin",
    "phone": "13800000000",
    "province": "Shanghai",
    "city": "Shanghai",
    "district": "Jing'an",
    "detail": "1601 Nanjing West Rd",
}


@pytest.fixture(scope="module")
def show(live_asgi):
    token = live_asgi.staff_token("demo-operator")

    def console_api(method, path, **kwargs):
        return live_asgi.api(method, "/api/v1/console" + path, token=token, brand="demo", **kwargs)

    room = next(r for r in console_api("GET", "/rooms")["results"] if r["title"] == ROOM_TITLE)
    products = console_api("GET", f"/rooms/{room['id']}/products")
    return {
        "room": room,
        "products": {p["name"]: p for p in products},
        "api": console_api,
        "server": live_asgi,
    }


def login(open_page, path, username="demo-operator", brand=None):
    page = open_page(path, name=f"console-{username}")
    page.on("dialog", lambda dialog: dialog.accept())  # confirm() before ending, drawing, removing
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    if brand:
        page.select_option("#brand-choice select", label=brand)
        page.click("#login button[type=submit]")
    return page


def console_page(open_page, show, username="demo-operator", brand=None):
    page = login(open_page, f"/console/rooms/{show['room']['id']}/live", username, brand)
    expect(page.locator("#live")).to_be_visible()
    page.wait_for_function("window.siyuConsole && window.siyuConsole.snapshots > 0")
    return page


def viewer_token(viewer):
    return viewer.evaluate("window.siyuViewer.state.token")


def mp(show, method, path, token, **kwargs):
    return show["server"].api(method, "/api/v1/mp" + path, token=token, **kwargs)


def test_the_console_speaks_chinese(open_page, show):
    page = console_page(open_page, show)
    expect(page.locator("h1")).to_contain_text("直播中控台")
    expect(page.locator("#status")).to_have_text("直播中")
    expect(page.locator("[data-action=end]")).to_have_text("结束直播")
    expect(page.locator("#games [data-tab]")).to_have_text(["抽奖", "礼盒", "拼团", "砍价"])
    assert page.evaluate("document.documentElement.lang") == "zh-Hans"
    assert not page.js_errors


def test_the_operator_adds_a_library_product_reorders_and_removes_it(open_page, show):
    room = show["room"]["id"]
    name = f"Linen shirt {uuid.uuid4().hex[:5]}"
    created = show["api"](
        "POST",
        "/products",
        json={
            "name": name,
            "price_type": "fixed",
            "price": 25900,
            "skus": [{"code": f"LIN-{uuid.uuid4().hex[:6]}", "spec": "M", "price": 25900, "stock": 7}],
        },
    )
    show["api"]("POST", f"/products/{created['id']}/audit", json={"approve": True})
    show["api"]("POST", f"/products/{created['id']}/shelf", json={"on_shelf": True})
    page = console_page(open_page, show)

    page.fill("#product-add input[name=q]", name)
    expect(page.locator("#product-add select[name=product_id] option")).to_have_count(1)
    page.click("#product-add button[type=submit]")
    row = page.locator(f"#products tr.product[data-product-id='{created['id']}']")
    expect(row).to_contain_text(name)
    expect(row.locator("[data-price]")).to_have_text("¥259.00")
    expect(row.locator("[data-stock]")).to_have_text("7")
    order = [p["product_id"] for p in show["api"]("GET", f"/rooms/{room}/products")]
    assert order[-1] == created["id"]

    row.locator("button[data-act=up]").click()
    expect(page.locator("#products tr.product").nth(len(order) - 2)).to_have_attribute(
        "data-product-id", str(created["id"])
    )
    moved = [p["product_id"] for p in show["api"]("GET", f"/rooms/{room}/products")]
    assert moved == [*order[:-2], created["id"], order[-2]]

    page.locator(f"#products tr.product[data-product-id='{created['id']}'] button[data-act=remove]").click()
    expect(page.locator(f"#products tr.product[data-product-id='{created['id']}']")).to_have_count(0)
    assert created["id"] not in [p["product_id"] for p in show["api"]("GET", f"/rooms/{room}/products")]
    assert not page.js_errors


def test_the_operator_changes_the_live_price_and_stock(open_page, show):
    room = show["room"]["id"]
    scarf = show["products"]["Cashmere scarf"]
    sku = scarf["skus"][0]
    page = console_page(open_page, show)
    row = page.locator(f"#products tr.product[data-product-id='{scarf['product_id']}']")
    row.locator("button[data-act=edit]").click()
    editor = page.locator(f"#products tr.sku-editor[data-product-id='{scarf['product_id']}']")

    editor.locator(f"tr[data-sku-id='{sku['id']}'] input[name=price]").fill("259")
    editor.locator(f"tr[data-sku-id='{sku['id']}'] button", has_text="改价").click()
    expect(page.locator("#action-note")).to_contain_text("259")
    editor = page.locator(f"#products tr.sku-editor[data-product-id='{scarf['product_id']}']")
    editor.locator("input[name=price]").first.fill("259.00")
    editor.locator("button", has_text="保存展示价").click()
    expect(row.locator("[data-price]")).to_have_text("¥259.00")

    before = sku["stock"]
    editor = page.locator(f"#products tr.sku-editor[data-product-id='{scarf['product_id']}']")
    editor.locator(f"tr[data-sku-id='{sku['id']}'] input[name=delta]").fill("-3")
    editor.locator(f"tr[data-sku-id='{sku['id']}'] button", has_text="调整库存").click()
    expect(row.locator("[data-stock]")).to_have_text(str(before - 3))

    [listing] = [p for p in show["api"]("GET", f"/rooms/{room}/products") if p["product_id"] == scarf["product_id"]]
    assert (listing["price"], listing["skus"][0]["price"], listing["skus"][0]["stock"]) == (25900, 25900, before - 3)

    editor = page.locator(f"#products tr.sku-editor[data-product-id='{scarf['product_id']}']")
    editor.locator(f"tr[data-sku-id='{sku['id']}'] input[name=price]").fill("abc")
    editor.locator(f"tr[data-sku-id='{sku['id']}'] button", has_text="改价").click()
    expect(page.locator("#action-error")).to_contain_text("请填写金额")
    show["api"]("PATCH", f"/skus/{sku['id']}", json={"price": 29900})  # as the other tests expect it
    show["api"]("PATCH", f"/products/{scarf['product_id']}", json={"price": 29900})
    show["api"]("POST", f"/skus/{sku['id']}/stock", json={"delta": 3})


def test_the_stock_shown_falls_when_a_viewer_buys(open_page, show):
    tote = show["products"]["Leather tote"]
    show["api"]("POST", f"/rooms/{show['room']['id']}/push", json={"product_id": tote["product_id"]})
    page = console_page(open_page, show)
    cell = page.locator(f"#products tr.product[data-product-id='{tote['product_id']}'] [data-stock]")
    expect(cell).not_to_have_text("")
    before = int(cell.inner_text())

    viewer = live_viewer(open_page, show)
    expect(viewer.locator("#product-name")).to_have_text("Leather tote")
    viewer.click("#buy")
    viewer.click("#pay")
    expect(viewer.locator("#order-status")).to_have_attribute("data-status", "paid")

    expect(cell).to_have_text(str(before - 1))  # the console's poll, within seconds


def test_a_lottery_is_opened_counted_and_drawn_from_the_console(open_page, show):
    page = console_page(open_page, show)
    viewer = live_viewer(open_page, show)
    title = f"福袋 {uuid.uuid4().hex[:5]}"
    form = page.locator("#lottery-form")
    form.locator("input[name=title]").fill(title)
    form.locator("input[name=prize_name]").fill("真丝围巾")
    form.locator("input[name=winner_count]").fill("5")
    form.locator("button[type=submit]").click()

    card = page.locator("#lotteries .card", has_text=title)
    expect(card).to_have_attribute("data-status", "open")
    expect(card.locator("[data-count=entrants]")).to_have_text("0")
    viewer_card = viewer.locator("#coupons .lottery", has_text=title)
    viewer_card.locator("button").click()
    expect(viewer_card.locator("button")).to_have_text("已参与 ✓")
    expect(card.locator("[data-count=entrants]")).to_have_text("1")

    card.get_by_role("button", name="开奖", exact=True).click()
    expect(card).to_have_attribute("data-status", "drawn")
    expect(card.locator(".winners")).to_contain_text("中奖")
    expect(viewer_card).to_contain_text("恭喜你中奖了")
    lottery = next(x for x in show["api"]("GET", f"/rooms/{show['room']['id']}/lotteries") if x["title"] == title)
    assert (lottery["status"], lottery["entrant_count"]) == ("drawn", 1)
    assert not page.js_errors


def test_a_gift_box_is_put_in_and_closed_from_the_console(open_page, show):
    room = show["room"]["id"]
    page = console_page(open_page, show)
    page.click("#games [data-tab=gift-boxes]")
    title = f"看播礼盒 {uuid.uuid4().hex[:5]}"
    form = page.locator("#gift-box-form")
    form.locator("input[name=title]").fill(title)
    form.locator("input[name=watch_minutes]").fill("0")
    first = form.locator("fieldset[data-prize='0']")
    first.locator("input[name=name]").fill("帆布袋")
    first.locator("input[name=stock]").fill("10")
    form.locator("button[type=submit]").click()

    card = page.locator("#gift-boxes .card", has_text=title)
    expect(card).to_contain_text("帆布袋（剩 10/10）")
    expect(card.locator("[data-count=opened]")).to_have_text("0")
    box = next(b for b in show["api"]("GET", f"/rooms/{room}/gift-boxes") if b["title"] == title)
    assert [(p["kind"], p["name"]) for p in box["prizes"]] == [("item", "帆布袋"), ("thanks", "谢谢参与")]

    viewer = live_viewer(open_page, show)
    opened = mp(show, "POST", f"/rooms/{room}/gift-boxes/{box['id']}/open", viewer_token(viewer))
    assert opened["box_id"] == box["id"]
    expect(card.locator("[data-count=opened]")).to_have_text("1")

    card.get_by_role("button", name="关闭礼盒").click()
    expect(card).to_have_attribute("data-status", "stopped")
    boxes = show["api"]("GET", f"/rooms/{room}/gift-boxes")
    assert next(b for b in boxes if b["id"] == box["id"])["status"] == "stopped"


def test_a_group_buy_runs_from_the_console_with_its_counts(open_page, show):
    room = show["room"]["id"]
    coat = show["products"]["Wool coat"]
    page = console_page(open_page, show)
    page.click("#games [data-tab=group-buys]")
    form = page.locator("#group-buy-form")
    form.locator("select[name=sku_id]").select_option(str(coat["skus"][0]["id"]))
    form.locator("input[name=price]").fill("999")
    form.locator("input[name=group_size]").fill("3")
    form.locator("button[type=submit]").click()

    card = page.locator("#group-buys .card").first
    expect(card).to_contain_text("3 人团 ¥999.00")
    offer = show["api"]("GET", f"/group-buys?room={room}")["results"][0]
    assert (offer["price"], offer["group_size"], offer["room"], offer["is_active"]) == (99900, 3, room, True)

    viewer = live_viewer(open_page, show)
    token = viewer_token(viewer)
    started = mp(show, "POST", f"/group-buys/{offer['id']}/groups", token, json={"address": ADDRESS})
    mp(show, "POST", f"/orders/{started['order']['id']}/pay", token)
    mp(show, "POST", f"/orders/{started['order']['id']}/sandbox-pay", token)
    expect(card.locator("[data-count=forming]")).to_have_text("1")
    expect(card.locator("[data-count=paid]")).to_have_text("1")

    card.get_by_role("button", name="停止拼团").click()
    expect(card).to_have_attribute("data-active", "false")
    assert show["api"]("GET", f"/group-buys?room={room}")["results"][0]["is_active"] is False


def test_a_bargain_runs_from_the_console_with_its_counts(open_page, show):
    room = show["room"]["id"]
    blouse = show["products"]["Silk blouse"]
    page = console_page(open_page, show)
    page.click("#games [data-tab=bargains]")
    form = page.locator("#bargain-form")
    form.locator("select[name=sku_id]").select_option(str(blouse["skus"][0]["id"]))
    form.locator("input[name=floor_price]").fill("199.00")
    form.locator("input[name=helpers_needed]").fill("2")
    form.locator("button[type=submit]").click()

    card = page.locator("#bargains .card").first
    expect(card).to_contain_text("砍到 ¥199.00")
    offer = show["api"]("GET", f"/bargain-offers?room={room}")["results"][0]
    assert (offer["floor_price"], offer["helpers_needed"]) == (19900, 2)

    viewer = live_viewer(open_page, show)
    mp(show, "POST", f"/bargain-offers/{offer['id']}/bargains", viewer_token(viewer))
    expect(card.locator("[data-count=started]")).to_have_text("1")
    expect(card.locator("[data-count=active]")).to_have_text("1")

    card.get_by_role("button", name="停止砍价").click()
    expect(card).to_have_attribute("data-active", "false")


def test_a_coupon_drop_shows_claimed_over_quota(open_page, show):
    page = console_page(open_page, show)
    viewer = live_viewer(open_page, show)
    page.select_option("#coupon-drop select[name=template_id]", label="Live-room 10% off")
    page.fill("#coupon-drop input[name=quantity]", "3")
    page.click("#coupon-drop button[type=submit]")
    row = page.locator("#drops tr").first
    expect(row).to_contain_text("Live-room 10% off")
    expect(row.locator(".claimed")).to_have_text("0 / 3")

    drop = viewer.locator("#coupons .coupon", has_text="Live-room 10% off").last
    drop.locator("button").click()
    expect(drop.locator("button")).to_have_text("已领取 ✓")
    expect(row.locator(".claimed")).to_have_text("1 / 3")


def test_the_mute_list_shows_the_muted_viewer_and_unmutes_them(open_page, show):
    page = console_page(open_page, show)
    viewer = live_viewer(open_page, show)
    text = f"say something {uuid.uuid4().hex[:6]}"
    comment(viewer, text)
    line = page.locator("#comments li", has_text=text)
    expect(line).to_be_visible()
    customer = line.get_attribute("data-customer")
    line.get_by_role("button", name="禁言").click()
    muted = page.locator(f"#mutes li[data-customer='{customer}']")
    expect(muted).to_contain_text("本场")

    muted.get_by_role("button", name="解除禁言").click()
    expect(muted).to_have_count(0)
    expect(line).not_to_have_class("muted-author")
    active = show["api"]("GET", f"/mutes?applies_to_room={show['room']['id']}&active=true")["results"]
    assert customer not in {str(m["customer"]) for m in active}

    viewer.reload()
    viewer.wait_for_function("window.siyuViewer && window.siyuViewer.state.snapshots > 0")
    again = f"back again {uuid.uuid4().hex[:6]}"
    comment(viewer, again)
    expect(page.locator("#comments li", has_text=again)).to_be_visible()


def test_the_pinned_comment_is_shown_once_on_top(open_page, show):
    page = console_page(open_page, show)
    viewer = live_viewer(open_page, show)
    text = f"pin me {uuid.uuid4().hex[:6]}"
    comment(viewer, text)
    page.locator("#comments li", has_text=text).get_by_role("button", name="置顶").click()

    expect(page.locator("#pinned")).to_contain_text(text, timeout=15_000)
    expect(page.locator("#comments li:visible", has_text=text)).to_have_count(0)
    page.reload()  # from the snapshot and the comment history too
    page.wait_for_function("window.siyuConsole && window.siyuConsole.snapshots > 0")
    expect(page.locator("#pinned")).to_contain_text(text)
    expect(page.locator("#comments li:visible", has_text=text)).to_have_count(0)

    page.locator("#pinned").get_by_role("button", name="取消置顶").click()
    expect(page.locator("#pinned")).to_be_hidden()
    expect(page.locator("#comments li:visible", has_text=text)).to_have_count(1)


def test_the_push_settings_are_copied_for_the_streaming_software(open_page, show):
    page = console_page(open_page, show)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    room = show["api"]("GET", f"/rooms/{show['room']['id']}")
    expect(page.locator("#push-server")).to_have_text(room["push_server"])
    expect(page.locator("#stream-key")).not_to_contain_text(room["stream_key"])  # masked until shown
    page.click("#stream-key-toggle")
    expect(page.locator("#stream-key")).to_have_text(room["stream_key"])

    for what, expected in (("push-server", "push_server"), ("stream-key", "stream_key"), ("push-url", "push_url")):
        button = page.locator(f"[data-copy={what}]")
        button.click()
        expect(button).to_have_text("已复制 ✓")
        assert page.evaluate("navigator.clipboard.readText()") == room[expected]

    page.click("#stream-key-reset")  # confirm() accepted
    expect(page.locator("#stream-key")).not_to_have_text(room["stream_key"])
    reset = show["api"]("GET", f"/rooms/{show['room']['id']}")
    assert reset["stream_key"] != room["stream_key"]
    expect(page.locator("#stream-key")).to_have_text(reset["stream_key"])
    page.locator("[data-copy=stream-key]").click()
    expect(page.locator("[data-copy=stream-key]")).to_have_text("已复制 ✓")
    assert page.evaluate("navigator.clipboard.readText()") == reset["stream_key"]


def test_an_error_line_clears(open_page, show):
    page = console_page(open_page, show)
    page.fill("#invite input[name=room_code]", "NOSUCHCODE")
    page.click("#invite button[type=submit]")
    error = page.locator("#action-error")
    expect(error).to_be_visible()
    error.locator(".close").click()
    expect(error).to_be_hidden()

    page.click("#invite button[type=submit]")
    expect(error).to_be_visible()
    page.click("#games [data-tab=lotteries]")
    page.fill("#lottery-form input[name=title]", f"清除错误 {uuid.uuid4().hex[:4]}")
    page.fill("#lottery-form input[name=prize_name]", "袜子")
    page.click("#lottery-form button[type=submit]")  # an action that succeeds clears it
    expect(error).to_be_hidden()


def test_the_operator_moves_between_the_brands_rooms(open_page, show):
    page = console_page(open_page, show)
    upcoming = next(r for r in show["api"]("GET", "/rooms")["results"] if r["title"] == "Winter preview night")
    options = page.locator("#room-switch option")
    expect(options.filter(has_text="Winter preview night")).to_have_count(1)
    assert "Rival" not in " ".join(options.all_inner_texts())

    page.select_option("#room-switch", str(upcoming["id"]))
    page.wait_for_url(f"**/console/rooms/{upcoming['id']}/live")
    expect(page.locator("#room-title")).to_contain_text("Winter preview night")
    expect(page.locator("#status")).to_have_text("未开播")
    expect(page.locator("[data-action=start]")).to_be_enabled()


def test_the_owner_edits_the_brands_settings_and_the_operator_only_reads_them(open_page, show):
    owner = console_page(open_page, show, username="demo-owner")
    form = owner.locator("#brand-settings")
    word = f"禁词{uuid.uuid4().hex[:4]}"
    form.locator("textarea[name=blocked_words]").fill(word)
    form.locator("select[name=blocked_word_action]").select_option("reject")
    form.locator("input[name=comments_per_minute]").fill("20")
    form.locator("textarea[name=reminder_template_data]").fill("thing1={title} 开播啦\ntime2={start}")
    form.locator("button[type=submit]").click()
    expect(owner.locator("#settings-saved")).to_be_visible()
    brand = show["api"]("GET", "/brand")
    assert (brand["blocked_words"], brand["blocked_word_action"], brand["comments_per_minute"]) == (word, "reject", 20)
    assert brand["reminder_template_data"] == {"thing1": "{title} 开播啦", "time2": "{start}"}

    form.locator("textarea[name=reminder_template_data]").fill("thing1={price}")
    form.locator("button[type=submit]").click()
    expect(owner.locator("#action-error")).to_be_visible()
    assert show["api"]("GET", "/brand")["reminder_template_data"] == {"thing1": "{title} 开播啦", "time2": "{start}"}

    viewer = live_viewer(open_page, show)  # a fresh connection reads the new rules
    comment(viewer, f"这是{word}吗")
    expect(viewer.locator("#composer-error")).not_to_have_text("")

    operator = console_page(open_page, show)
    expect(operator.locator("#brand-settings textarea[name=blocked_words]")).to_have_value(word)
    expect(operator.locator("#brand-settings textarea[name=blocked_words]")).to_be_disabled()
    expect(operator.locator("#settings-who")).to_contain_text("仅品牌所有者可修改")
    owner.locator("#brand-settings textarea[name=blocked_words]").fill("")
    owner.locator("#brand-settings textarea[name=reminder_template_data]").fill("")
    owner.locator("#brand-settings button[type=submit]").click()
    expect(owner.locator("#settings-saved")).to_be_visible()


def test_the_platform_operator_picks_and_switches_brands(open_page, show):
    page = console_page(open_page, show, username="platform", brand="Siyu Demo Fashion")
    expect(page.locator("#room-title")).to_contain_text(ROOM_TITLE)
    expect(page.locator("#who")).to_contain_text("platform · Siyu Demo Fashion")
    expect(page.locator("#brand-settings button[type=submit]")).to_be_enabled()

    platform = show["server"].staff_token("platform")
    rival_rooms = show["server"].api("GET", "/api/v1/console/rooms", token=platform, brand="rival")["results"]
    page.select_option("#brand-switch", label="Rival Tea Co.")
    page.wait_for_url(f"**/console/rooms/{rival_rooms[0]['id']}/live")
    expect(page.locator("#who")).to_contain_text("platform · Rival Tea Co.")
    expect(page.locator("#live")).to_be_visible()
    expect(page.locator("#room-title")).to_contain_text(rival_rooms[0]["title"])
    options = page.locator("#room-switch option")
    expect(options).to_have_count(len(rival_rooms))
    assert show["room"]["id"] not in {r["id"] for r in rival_rooms}
