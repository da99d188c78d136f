"""A show between two browsers: a viewer's phone page and the operator's live console."""

import time
import uuid

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db]  # django_db: a test database to serve

ROOM_TITLE = "Autumn new arrivals"  # seed_demo's live room


@pytest.fixture(scope="module")
def show(live_asgi):
    """The demo brand's live room, with the operator's console API at hand for set-up."""
    token = live_asgi.staff_token("demo-operator")
    rooms = live_asgi.api("GET", "/api/v1/console/rooms", token=token, brand="demo")["results"]
    room = next(r for r in rooms if r["title"] == ROOM_TITLE)
    products = live_asgi.api("GET", f"/api/v1/console/rooms/{room['id']}/products", token=token, brand="demo")

    def console_api(method, path, **kwargs):
        return live_asgi.api(method, "/api/v1/console" + path, token=token, brand="demo", **kwargs)

    return {"room": room, "products": {p["name"]: p["product_id"] for p in products}, "api": console_api}


def open_console(open_page, show, username="demo-operator"):
    page = open_page(f"/console/rooms/{show['room']['id']}/live", name="console")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "siyu-demo-2026")
    page.click("#login button[type=submit]")
    return page


def live_console(open_page, show):
    page = open_console(open_page, show)
    expect(page.locator("#live")).to_be_visible()
    page.wait_for_function("window.siyuConsole && window.siyuConsole.snapshots > 0")
    return page


def live_viewer(open_page, show):
    page = open_page(f"/live/rooms/{show['room']['id']}/", name="viewer", mobile=True)
    page.wait_for_function("window.siyuViewer && window.siyuViewer.state.snapshots > 0")
    expect(page.locator("#title")).to_have_text(ROOM_TITLE)
    return page


def comment(page, text):
    page.fill("#comment-text", text)
    page.click("#send")


def test_a_viewers_comment_reaches_the_console(open_page, show):
    console = live_console(open_page, show)
    viewer = live_viewer(open_page, show)
    text = f"Love the coat {uuid.uuid4().hex[:6]}"

    comment(viewer, text)

    expect(viewer.locator("#comments li.mine", has_text=text)).to_be_visible()
    expect(console.locator("#comments li", has_text=text)).to_be_visible()
    assert not viewer.js_errors and not console.js_errors


def test_the_operator_pushes_a_product_and_the_viewers_card_changes(open_page, show):
    show["api"]("POST", f"/rooms/{show['room']['id']}/push", json={"product_id": show["products"]["Wool coat"]})
    console = live_console(open_page, show)
    viewer = live_viewer(open_page, show)
    expect(viewer.locator("#product-name")).to_have_text("Wool coat")

    scarf = show["products"]["Cashmere scarf"]
    console.click(f"#products tr[data-product-id='{scarf}'] button[data-act=push]")

    expect(viewer.locator("#product-name")).to_have_text("Cashmere scarf")
    expect(viewer.locator("#product-price")).to_have_text("¥299.00")
    expect(console.locator(f"#products tr.pushed[data-product-id='{scarf}']")).to_be_visible()


def test_a_purchase_moves_the_consoles_order_count(open_page, show):
    show["api"]("POST", f"/rooms/{show['room']['id']}/push", json={"product_id": show["products"]["Leather tote"]})
    console = live_console(open_page, show)
    viewer = live_viewer(open_page, show)
    expect(console.locator("#orders")).not_to_have_text("")
    orders_before = int(console.locator("#orders").inner_text())
    paid_before = int(console.locator("#paid-orders").inner_text())

    expect(viewer.locator("#product-name")).to_have_text("Leather tote")
    viewer.click("#buy")
    viewer.click("#pay")

    expect(viewer.locator("#order-status")).to_have_attribute("data-status", "paid")
    expect(viewer.locator("#order-status")).to_contain_text("¥899.00")
    expect(console.locator("#orders")).to_have_text(str(orders_before + 1))
    expect(console.locator("#paid-orders")).to_have_text(str(paid_before + 1))


def test_a_viewer_opening_the_product_card_counts_in_the_report_funnel(open_page, show):
    room = show["room"]["id"]
    blouse = show["products"]["Silk blouse"]  # no other test opens its card

    def blouse_clicks():
        report = show["api"]("GET", f"/rooms/{room}/report")
        row = next((row for row in report["top_products"] if row["product_id"] == blouse), None)
        return (row["clicks"], row["clickers"]) if row else (0, 0), report["funnel"]["clicked"]

    (clicks, clickers), clicked = blouse_clicks()
    show["api"]("POST", f"/rooms/{room}/push", json={"product_id": blouse})
    viewer = live_viewer(open_page, show)
    expect(viewer.locator("#product-name")).to_have_text("Silk blouse")
    sent = []
    viewer.on("request", lambda request: "/product-clicks" in request.url and sent.append(request.post_data_json))

    viewer.click("#product-name")  # a tap on the card
    viewer.click("#buy")  # opening it to buy: another click
    expect(viewer.locator("#checkout")).to_be_visible()

    # Counted in the live store at once, saved by the next flush (within seconds).
    deadline = time.monotonic() + 15
    while blouse_clicks()[0] != (clicks + 2, clickers + 1) and time.monotonic() < deadline:
        time.sleep(0.3)
    counted, now_clicked = blouse_clicks()
    assert counted == (clicks + 2, clickers + 1)
    assert now_clicked >= clicked + 1  # (an earlier test's viewer may be saved meanwhile)
    assert sent == [{"product": blouse}, {"product": blouse}]
    assert not viewer.js_errors


def test_the_operator_pins_and_hides_comments_on_every_viewers_screen(open_page, show):
    console = live_console(open_page, show)
    viewer = live_viewer(open_page, show)
    keep, drop = f"keep me {uuid.uuid4().hex[:6]}", f"hide me {uuid.uuid4().hex[:6]}"
    comment(viewer, keep)
    comment(viewer, drop)
    expect(console.locator("#comments li", has_text=drop)).to_be_visible()

    # Just said, the comments are not saved yet: the console waits for them (up to a few seconds).
    console.locator("#comments li", has_text=keep).get_by_role("button", name="置顶").click()
    expect(viewer.locator("#pinned")).to_contain_text(keep, timeout=15_000)
    console.locator("#comments li", has_text=drop).get_by_role("button", name="隐藏").click()

    expect(viewer.locator("#comments li", has_text=drop)).to_have_count(0, timeout=15_000)
    expect(console.locator("#comments li", has_text=drop)).to_have_count(0)
    expect(viewer.locator("#comments li", has_text=keep)).to_be_visible()
    expect(console.locator("#action-error")).to_be_hidden()


def test_a_muted_viewers_comment_is_refused_with_the_message_shown(open_page, show):
    console = live_console(open_page, show)
    viewer = live_viewer(open_page, show)
    first = f"first {uuid.uuid4().hex[:6]}"
    comment(viewer, first)
    line = console.locator("#comments li", has_text=first)
    expect(line).to_be_visible()

    line.get_by_role("button", name="禁言").click()
    expect(line).to_have_class("muted-author")

    viewer.reload()  # a fresh connection: the server reads the mute at once
    viewer.wait_for_function("window.siyuViewer && window.siyuViewer.state.snapshots > 0")
    second = f"second {uuid.uuid4().hex[:6]}"
    comment(viewer, second)

    expect(viewer.locator("#composer-error")).to_have_text("你已被禁言，暂时不能评论。")
    expect(viewer.locator("#comments li", has_text=second)).to_have_count(0)
    expect(console.locator("#comments li", has_text=second)).to_have_count(0)


def test_an_operator_of_another_brand_cannot_open_this_rooms_console(open_page, show):
    page = open_console(open_page, show, username="rival-operator")

    expect(page.locator("#refused")).to_contain_text(f"品牌「Rival Tea Co.」中没有直播间 {show['room']['id']}")
    expect(page.locator("#live")).to_be_hidden()
    expect(page.locator("#room-title")).to_have_text("")
    # The room switcher offers the rival's own rooms (seeded with the same titles), never this one.
    expect(page.locator("#room-switch option").first).to_have_text("选择直播间…")
    expect(page.locator(f"#room-switch option[value='{show['room']['id']}']")).to_have_count(0)
    assert "Lin Xiao" not in page.content()  # nothing of this room is shown


def test_a_dropped_viewer_reconnects_and_resumes_from_the_snapshot(open_page, show):
    viewer = live_viewer(open_page, show)
    other = live_viewer(open_page, show)

    viewer.evaluate("window.siyuViewer.socket.drop()")
    text = f"while you were away {uuid.uuid4().hex[:6]}"
    comment(other, text)

    viewer.wait_for_function("window.siyuViewer.state.snapshots >= 2")
    expect(viewer.locator("#comments li", has_text=text)).to_have_count(1)  # from the snapshot, once
    expect(viewer.locator("#connection")).to_be_hidden()
    mine = f"back again {uuid.uuid4().hex[:6]}"
    comment(viewer, mine)
    expect(other.locator("#comments li", has_text=mine)).to_be_visible()


def test_likes_are_sent_in_batches_and_reach_the_console(open_page, show):
    console = live_console(open_page, show)
    viewer = live_viewer(open_page, show)
    viewer.evaluate(
        """() => {
            const socket = window.siyuViewer.socket.socket;
            window.sentLikes = [];
            const send = socket.send.bind(socket);
            socket.send = (frame) => {
                if (JSON.parse(frame).type === "like") window.sentLikes.push(frame);
                send(frame);
            };
        }"""
    )
    expect(console.locator("#likes")).not_to_have_text("")
    before = int(console.locator("#likes").inner_text())

    for _ in range(7):
        viewer.click("#like")

    expect(console.locator("#likes")).to_have_text(str(before + 7))
    frames = viewer.evaluate("window.sentLikes.map((f) => JSON.parse(f).data.count)")
    assert sum(frames) == 7 and len(frames) < 7


def test_an_upcoming_room_counts_down_and_takes_a_reminder(open_page, show):
    token_rooms = show["api"]("GET", "/rooms?status=scheduled")["results"]
    upcoming = next(r for r in token_rooms if r["title"] == "Winter preview night")
    viewer = open_page(f"/live/rooms/{upcoming['id']}/", name="viewer", mobile=True)

    expect(viewer.locator("#status")).to_have_text("即将开始")
    expect(viewer.locator("#countdown")).to_contain_text("小时")
    viewer.click("#remind")
    expect(viewer.locator("#remind")).to_contain_text("已预约提醒")
    assert show["api"]("GET", f"/rooms/{upcoming['id']}")["reminders"]["pending"] >= 1


def test_the_operator_drops_a_coupon_and_the_viewer_claims_it(open_page, show):
    console = live_console(open_page, show)
    viewer = live_viewer(open_page, show)
    expect(console.locator("#coupon-panel")).to_be_visible()

    console.select_option("#coupon-drop select[name=template_id]", label="Live-room 10% off")
    console.fill("#coupon-drop input[name=quantity]", "3")
    console.click("#coupon-drop button[type=submit]")

    drop = viewer.locator("#coupons .coupon", has_text="Live-room 10% off").last
    expect(drop).to_be_visible()
    expect(drop).to_contain_text("剩余 3 张")
    drop.locator("button").click()
    expect(drop.locator("button")).to_have_text("已领取 ✓")
    templates = show["api"]("GET", "/coupon-templates?page_size=100")["results"]
    template = next(t for t in templates if t["name"] == "Live-room 10% off")
    claimed = show["api"]("GET", f"/coupons?template_id={template['id']}&source=drop")["results"]
    assert len(claimed) == 1
    assert not viewer.js_errors and not console.js_errors


def test_a_viewer_joins_a_lottery_and_sees_the_draw(open_page, show):
    viewer = live_viewer(open_page, show)
    title = f"Lucky draw {uuid.uuid4().hex[:6]}"
    room = show["room"]["id"]
    lottery = show["api"](
        "POST",
        f"/rooms/{room}/lotteries",
        json={"title": title, "prize_kind": "physical", "prize_name": "Silk scarf", "winner_count": 50},
    )

    card = viewer.locator("#coupons .lottery", has_text=title)
    expect(card).to_contain_text("Silk scarf")
    card.locator("button").click()
    expect(card.locator("button")).to_have_text("已参与 ✓")

    show["api"]("POST", f"/rooms/{room}/lotteries/{lottery['id']}/draw")

    expect(card).to_have_attribute("data-status", "drawn")
    expect(card).to_contain_text("恭喜你中奖了")  # every entrant wins: 50 prizes
    assert not viewer.js_errors
