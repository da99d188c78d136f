"""The admin's post-show report page: figures, charts (in headless Chromium), follow-ups, isolation."""

import os
import shutil

import pytest
from django.test import Client

from coupons.models import Coupon
from livestream.models import FollowUp
from tenants.models import Membership
from tenants.scoping import brand_scope
from tests.coupons.conftest import make_template
from tests.livestream.test_report import show  # noqa: F401  (the hand-made show)

CHROMIUM = "/usr/bin/chromium"


def admin_client(user):
    client = Client()
    client.force_login(user)
    return client


def test_report_page_shows_the_figures_and_sends_a_follow_up(
    brand,
    show,  # noqa: F811
    make_staff,
    django_capture_on_commit_callbacks,
):
    room = show["room"]
    operator = admin_client(make_staff(brand, Membership.Role.OPERATOR))
    listing = operator.get("/admin/livestream/liveroom/").content.decode()
    assert f"/admin/livestream/liveroom/{room.pk}/report/" in listing
    page = operator.get(f"/admin/livestream/liveroom/{room.pk}/report/").content.decode()
    assert "¥130.00" in page and "66.67 %" in page and "chart.umd.min.js" in page
    assert 'id="report-charts"' in page and "Silk scarf" in page and "Store S1" in page

    template = make_template(brand)
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(
            f"/admin/livestream/liveroom/{room.pk}/report/",
            {"segment": "watched_not_bought", "coupon_template": template.pk, "message_text": ""},
        )
    assert response.status_code == 302
    with brand_scope(brand):
        follow_up = FollowUp.objects.get()
        assert follow_up.status == "done" and follow_up.recipient_count == 1  # c3: watched, did not pay
        assert Coupon.objects.filter(source="follow_up", customer=show["customers"][2]).count() == 1


def test_another_brands_operator_cannot_open_the_report(brand, other_brand, show, make_staff):  # noqa: F811
    rival = admin_client(make_staff(other_brand, Membership.Role.OPERATOR))
    response = rival.get(f"/admin/livestream/liveroom/{show['room'].pk}/report/")
    assert response.status_code in (302, 404)
    assert b"Silk scarf" not in response.content
    assert rival.post(f"/admin/livestream/liveroom/{show['room'].pk}/report/", {"segment": "bought"}).status_code in (
        302,
        404,
    )
    with brand_scope(brand):
        assert not FollowUp.objects.exists()


def test_the_report_exports_download_with_the_admins_session(brand, other_brand, show, make_staff):  # noqa: F811
    room = show["room"]
    operator = admin_client(make_staff(brand, Membership.Role.OPERATOR))
    page = operator.get(f"/admin/livestream/liveroom/{room.pk}/report/").content.decode()
    for kind, content_type in (("csv", "text/csv"), ("xlsx", "application/vnd.openxmlformats")):
        link = f"/admin/livestream/liveroom/{room.pk}/report.{kind}"
        assert f'href="{link}"' in page  # was the console API's URL, which answers 401 without a token
        download = operator.get(link)
        assert download.status_code == 200 and download["Content-Type"].startswith(content_type)
        body = b"".join(download.streaming_content) if download.streaming else download.content
        assert (b"Silk scarf" in body) if kind == "csv" else body.startswith(b"PK")
        rival = admin_client(make_staff(other_brand, Membership.Role.OPERATOR)).get(link)
        assert rival.status_code in (302, 404) and b"Silk scarf" not in rival.content
    assert Client().get(f"/admin/livestream/liveroom/{room.pk}/report.csv").status_code == 302  # to the login


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Chromium at /usr/bin/chromium")
def test_report_page_draws_its_charts_in_a_real_browser(
    transactional_db,
    brand,
    show,  # noqa: F811
    make_staff,
    live_server,
    monkeypatch,
):
    from playwright.sync_api import sync_playwright

    room = show["room"]
    operator = admin_client(make_staff(brand, Membership.Role.OPERATOR))
    session = operator.cookies["sessionid"].value
    # Playwright's sync API runs an event loop in this thread; the live server's ORM runs in its own.
    monkeypatch.setitem(os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context()
            context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{live_server.url}/admin/livestream/liveroom/{room.pk}/report/")
            page.wait_for_function("window.reportCharts && window.reportCharts.length === 4")
            drawn = page.evaluate(
                """() => window.reportCharts.map(chart => ({
                    id: chart.canvas.id,
                    width: chart.width,
                    points: chart.data.datasets.reduce((n, d) => n + d.data.length, 0),
                    painted: (() => {
                        const ctx = chart.canvas.getContext("2d");
                        const pixels = ctx.getImageData(0, 0, chart.canvas.width, chart.canvas.height).data;
                        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) return true;
                        return false;
                    })(),
                }))"""
            )
            funnel = page.evaluate("() => window.reportCharts[2].data.datasets[0].data")
        finally:
            browser.close()
    assert errors == []
    assert [chart["id"] for chart in drawn] == ["chart-online", "chart-orders", "chart-funnel", "chart-sources"]
    assert all(chart["width"] > 0 and chart["points"] > 0 and chart["painted"] for chart in drawn), drawn
    assert funnel == [3, 3, 3, 2]  # viewers → clicked a product (or ordered) → ordered → paid


def test_the_report_charts_every_minute_in_order_in_the_brands_zone_with_the_pushes():
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from django.utils import translation

    from livestream.admin import report_charts

    row = {"online": 0, "likes": 0, "comments": 0, "orders": 0, "paid_orders": 0}
    report = {
        "minutes": [
            {**row, "minute": "2026-11-23T15:58", "online": 3},
            {**row, "minute": "2026-11-23T16:01", "online": 5, "orders": 2},  # 00:01 the next day in Shanghai
        ],
        "pushes": [{"started_at": datetime(2026, 11, 23, 15, 59, 30, tzinfo=UTC), "product_name": "丝巾"}],
        "funnel": {"viewers": 5, "clicked": 3, "ordered": 2, "paid": 1},
        "sources": [],
    }
    with translation.override("zh-hans"):
        charts = report_charts(report, ZoneInfo("Asia/Shanghai"))
    assert charts["minutes"] == ["11-23 23:58", "11-23 23:59", "11-24 00:00", "11-24 00:01"]
    assert charts["online"] == [3, 0, 0, 5] and charts["orders"] == [0, 0, 0, 2]
    assert charts["pushes"] == [{"label": "11-23 23:59", "name": "丝巾"}]
    assert charts["text"]["time_axis"] == "时间（Asia/Shanghai）" and charts["funnel"]["labels"][0] == "观众"


def test_the_report_page_reads_in_chinese(brand, show, make_staff, settings):  # noqa: F811
    settings.LANGUAGE_CODE = "zh-hans"
    operator = admin_client(make_staff(brand, Membership.Role.OPERATOR))
    page = operator.get(f"/admin/livestream/liveroom/{show['room'].pk}/report/").content.decode()
    assert "观看人数" in page and "转化漏斗" in page and "导出 CSV" in page and "Noto Sans CJK SC" in page
    assert "https://fonts." not in page  # no web fonts
