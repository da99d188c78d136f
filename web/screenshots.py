"""Screenshots for the README: the viewer's phone and the operator's console side by side,
during a show (a few comments, a product pushed, a purchase).

Start the demo first (``make run``), then::

    .venv/bin/python -m web.screenshots [--base http://127.0.0.1:8000]

It writes docs/screenshots/viewer.png, console.png and live-show.png (the two side by side).
"""

import argparse
from pathlib import Path

import httpx
from PIL import Image
from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
PASSWORD = "siyu-demo-2026"
ROOM_TITLE = "Autumn new arrivals"
CHAT = ["Is the coat warm enough for Beijing?", "Love the camel colour!", "What size is the model wearing?"]


def demo_room(base: str) -> int:
    login = httpx.post(f"{base}/api/v1/staff/login", json={"username": "demo-operator", "password": PASSWORD})
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['access']}", "X-Brand": "demo"}
    rooms = httpx.get(f"{base}/api/v1/console/rooms", headers=headers).json()["results"]
    return next(room["id"] for room in rooms if room["title"] == ROOM_TITLE)


def viewer(browser, base, room_id, code_nickname=None):
    context = browser.new_context(viewport={"width": 390, "height": 780}, is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    page.goto(f"{base}/live/rooms/{room_id}/")
    page.wait_for_function("window.siyuViewer && window.siyuViewer.state.snapshots > 0")
    return page


def say(page, text):
    page.fill("#comment-text", text)
    page.click("#send")
    expect(page.locator("#comments li", has_text=text)).to_be_visible()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    base = args.base.rstrip("/")
    room_id = demo_room(base)
    OUT.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        console = browser.new_context(viewport={"width": 1280, "height": 780}).new_page()
        console.goto(f"{base}/console/rooms/{room_id}/live")
        console.fill("input[name=username]", "demo-operator")
        console.fill("input[name=password]", PASSWORD)
        console.click("#login button[type=submit]")
        console.wait_for_function("window.siyuConsole && window.siyuConsole.snapshots > 0")

        phone = viewer(browser, base, room_id)
        others = [viewer(browser, base, room_id) for _ in range(2)]
        for page, text in zip([*others, phone], CHAT, strict=True):
            say(page, text)
        push = console.locator("#products tr.product", has_text="Wool coat").locator("button[data-act=push]")
        if push.inner_text() == "讲解":  # not presented yet
            push.click()
        expect(phone.locator("#product-name")).to_have_text("Wool coat")
        for _ in range(12):
            phone.click("#like")
        phone.click("#buy")
        phone.click("#pay")
        expect(phone.locator("#order-status")).to_have_attribute("data-status", "paid")
        phone.click("#checkout button[value=cancel]")
        expect(console.locator("#paid-orders")).not_to_have_text("0")

        phone.screenshot(path=str(OUT / "viewer.png"))
        console.screenshot(path=str(OUT / "console.png"))
        browser.close()

    side_by_side(OUT / "viewer.png", OUT / "console.png", OUT / "live-show.png")
    print(f"Wrote {OUT}/viewer.png, console.png and live-show.png")


def side_by_side(left: Path, right: Path, out: Path, gap: int = 24):
    phone, desk = Image.open(left), Image.open(right)
    phone = phone.resize((phone.width * desk.height // phone.height, desk.height))
    canvas = Image.new("RGB", (phone.width + desk.width + 3 * gap, desk.height + 2 * gap), "#d9dce3")
    canvas.paste(phone, (gap, gap))
    canvas.paste(desk, (phone.width + 2 * gap, gap))
    canvas.save(out, optimize=True)


if __name__ == "__main__":
    main()
