"""The admin in Chinese (English selectable), in the brand's time zone, with money in yuan and
JSON fields readable."""

import re
import zoneinfo
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django import forms
from django.contrib import admin
from django.db import models
from django.test import Client
from django.utils import translation

from tenants.admin_site import MONEY_FIELDS, PrettyJSONField, YuanField, format_yuan, json_display, money_fields
from tenants.models import Membership

CJK = re.compile(r"[\u4e00-\u9fff]")
SAME_IN_CHINESE = {"SKU", "openid", "unionid"}  # WeChat's and retail's own terms, written so in Chinese too


def _chinese(text) -> bool:
    with translation.override("en"):
        english = str(text)
    with translation.override("zh-hans"):
        chinese = str(text)
    if english in SAME_IN_CHINESE:
        return True
    return bool(CJK.search(chinese)) or chinese != english


def _shown_strings():
    """Every string the admin shows from a registered model: its names, its fields' names and help
    texts, their choices, and the admin's actions and column titles."""
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in {"tenants", "commerce", "coupons", "guides", "livestream"}:
            continue
        label = model._meta.label
        yield label, model._meta.verbose_name
        yield label, model._meta.verbose_name_plural
        for field in model._meta.get_fields():
            if not hasattr(field, "verbose_name") or field.auto_created:
                continue
            yield f"{label}.{field.name}", field.verbose_name
            if field.help_text:
                yield f"{label}.{field.name} help", field.help_text
            for value, choice in getattr(field, "flatchoices", None) or []:
                yield f"{label}.{field.name}={value}", choice
        for name in getattr(model_admin, "actions", None) or []:
            action = getattr(model_admin, name)
            yield f"{label} action {name}", action.short_description
        for column in model_admin.list_display:
            attr = getattr(model_admin, column, None) if isinstance(column, str) else column
            if callable(attr) and hasattr(attr, "short_description"):
                yield f"{label} column {column}", attr.short_description


def test_every_string_the_admin_shows_has_a_chinese_translation():
    missing = [(where, str(text)) for where, text in _shown_strings() if str(text) and not _chinese(text)]
    assert not missing, f"no Chinese in locale/zh_Hans for: {missing}"


def test_the_english_plurals_are_fixed():
    from commerce.models import Sku
    from livestream.models import CoStream, GiftBox

    with translation.override("en"):
        assert [str(m._meta.verbose_name_plural) for m in (GiftBox, CoStream, Sku)] == [
            "gift boxes",
            "co-streams",
            "SKUs",
        ]


def test_every_money_field_is_shown_in_yuan():
    """A model field whose help text speaks of fen is in MONEY_FIELDS (and every name there exists)."""
    from django.apps import apps

    for model in apps.get_models():
        for name in money_fields(model):
            assert isinstance(model._meta.get_field(name), models.IntegerField)
        for field in model._meta.fields:
            with translation.override(None):
                fen = isinstance(field, models.IntegerField) and str(field.help_text).startswith("Fen")
            if fen:
                assert field.name in money_fields(model), f"{model._meta.label}.{field.name} is money"
    assert set(MONEY_FIELDS) <= {m._meta.label for m in apps.get_models()}


# --- YuanField ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fen"),
    [("199", 19900), ("199.5", 19950), ("199.50", 19950), ("0.01", 1), ("¥1,999.00", 199900), (" 7 ", 700)],
)
def test_yuan_field_reads_yuan_into_fen_exactly(typed, fen):
    assert YuanField().clean(typed) == fen


def test_yuan_field_round_trips_without_floats():
    field = YuanField()
    for fen in (0, 1, 10, 99, 19900, 19950, 123456789, 2_000_000_000):
        assert field.prepare_value(fen) == f"{Decimal(fen) / 100:.2f}"
        assert field.clean(field.prepare_value(fen)) == fen
    assert field.clean("0.29") == 29  # float(0.29) * 100 is 28.999999999999996


@pytest.mark.parametrize("typed", ["1.234", "abc", "1e3", "12.", ".5", "1.2.3", "nan", "--1"])
def test_yuan_field_refuses_what_is_not_yuan_with_two_decimals(typed):
    with pytest.raises(forms.ValidationError) as refused:
        YuanField().clean(typed)
    assert refused.value.code == "invalid"


def test_yuan_field_refuses_negatives_where_the_model_has_none():
    with pytest.raises(forms.ValidationError) as refused:
        YuanField(min_value=0).clean("-1.00")
    assert refused.value.code == "negative"
    assert YuanField().clean("-12.30") == -1230  # a ledger entry may be negative
    with pytest.raises(forms.ValidationError):
        YuanField().clean("30000000.00")  # past PostgreSQL's integer


def test_money_columns_read_as_yuan():
    assert format_yuan(199900) == "¥1,999.00"
    assert format_yuan(5) == "¥0.05"
    assert format_yuan(-1230) == "-¥12.30"
    assert format_yuan(None) == "—"


# --- JSON fields -------------------------------------------------------------------------------


def test_json_fields_are_pretty_and_refused_with_a_clear_error():
    field = PrettyJSONField()
    assert field.widget.format_value({"b": 1, "标题": "春"}) == '{\n  "b": 1,\n  "标题": "春"\n}'
    with pytest.raises(forms.ValidationError) as refused:
        field.clean('{"a": 1,}')
    assert "line 1" in str(refused.value)
    urls = PrettyJSONField(url_lines=True)
    assert urls.widget.format_value(["https://a.example/1.png", "https://a.example/2.png"]) == (
        "https://a.example/1.png\nhttps://a.example/2.png"
    )
    assert urls.clean("https://a.example/1.png\n\n https://a.example/2.png ") == [
        "https://a.example/1.png",
        "https://a.example/2.png",
    ]
    assert urls.clean('["https://a.example/1.png"]') == ["https://a.example/1.png"]
    assert "<th>2026-11-23T20:15</th><td>12</td>" in json_display({"2026-11-23T20:15": 12})


# --- pages -------------------------------------------------------------------------------------


def _client(user, language=None):
    client = Client()
    client.force_login(user)
    if language:
        client.cookies["django_language"] = language
    return client


@pytest.fixture
def chinese_by_default(settings):
    settings.LANGUAGE_CODE = "zh-hans"  # the setting's own value (the suite's other tests read English)


@pytest.mark.django_db
def test_the_admin_speaks_chinese_by_default_and_english_when_chosen(chinese_by_default, brand, make_staff):
    operator = _client(make_staff(brand, Membership.Role.OPERATOR))
    page = operator.get("/admin/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "直播电商管理" in page and 'name="language"' in page and "直播间" in page
    switched = operator.post("/admin/language/", {"language": "en", "next": "/admin/"})
    assert switched.status_code == 302 and switched.cookies["django_language"].value == "en"
    page = operator.get("/admin/").content.decode()
    assert "Live commerce administration" in page and "Live rooms" in page
    # The API keeps English messages whatever the admin speaks.
    assert Client().get("/api/v1/mp/rooms").headers.get("Content-Language") in (None, "en")


@pytest.mark.django_db
def test_money_is_shown_and_entered_in_yuan_on_the_product_pages(chinese_by_default, brand, make_staff):
    from commerce.services import products as services
    from tenants.scoping import brand_scope

    with brand_scope(brand):
        product = services.product_create(brand=brand, name="丝巾", price_type="fixed", price=199900)
    operator = _client(make_staff(brand, Membership.Role.OPERATOR))
    listing = operator.get("/admin/commerce/product/").content.decode()
    assert "¥1,999.00" in listing and "丝巾" in listing
    page = operator.get(f"/admin/commerce/product/{product.pk}/change/").content.decode()
    assert 'value="1999.00"' in page
    form = {
        "name": "丝巾",
        "category": "",
        "images": "https://a.example/1.png",
        "description": "",
        "price_type": "fixed",
    }
    form |= {"price": "1888.5", "price2": ""}
    form |= {
        "skus-TOTAL_FORMS": "0",
        "skus-INITIAL_FORMS": "0",
        "skus-MIN_NUM_FORMS": "0",
        "skus-MAX_NUM_FORMS": "1000",
    }
    assert operator.post(f"/admin/commerce/product/{product.pk}/change/", form).status_code == 302
    product.refresh_from_db()
    assert product.price == 188850 and product.images == ["https://a.example/1.png"]
    refused = operator.post(f"/admin/commerce/product/{product.pk}/change/", form | {"price": "1.234"})
    assert refused.status_code == 200 and "最多两位小数" in refused.content.decode()
    product.refresh_from_db()
    assert product.price == 188850


@pytest.mark.django_db
def test_admin_times_are_in_the_brands_time_zone(chinese_by_default, brand, other_brand, make_staff):
    from livestream.models import LiveRoom

    brand.timezone = "Asia/Tokyo"
    brand.save(update_fields=["timezone"])
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    room = LiveRoom.objects.create(
        brand=brand, title="春装", anchor_name="A", scheduled_start=start, scheduled_end=start.replace(hour=14)
    )
    operator = _client(make_staff(brand, Membership.Role.OPERATOR))
    page = operator.get(f"/admin/livestream/liveroom/{room.pk}/change/").content.decode()
    assert 'id="id_scheduled_start_1"' in page and re.search(r'value="21:00(:00)?"', page)  # 12:00 UTC in Tokyo
    listing = operator.get("/admin/livestream/liveroom/").content.decode()
    assert "21:00" in listing
    platform = _client(make_staff(username="root", is_superuser=True, is_staff=True))
    page = platform.get(f"/admin/livestream/liveroom/{room.pk}/change/").content.decode()
    assert re.search(r'value="20:00(:00)?"', page)  # the platform operator's Asia/Shanghai
    assert zoneinfo.ZoneInfo(brand.timezone) == brand.tz


@pytest.mark.django_db(transaction=False)
def test_every_admin_page_opens_in_chinese_on_the_demo(chinese_by_default):
    """Lists, change and add pages of every registered model, as the platform operator and as the
    demo's operator, on seed_demo's data: money and JSON fields in their widgets, never a 500."""
    import io

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.urls import reverse

    call_command("seed_demo", stdout=io.StringIO())
    users = get_user_model().objects
    clients = [_client(users.get(username="platform")), _client(users.get(username="demo-operator"))]
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        manager = getattr(model, "unscoped", model._default_manager)
        first = manager.order_by("pk").first()
        urls = [reverse(f"{prefix}_changelist"), reverse(f"{prefix}_add")]
        if first is not None:
            urls.append(reverse(f"{prefix}_change", args=[first.pk]))
        for client in clients:
            for url in urls:
                response = client.get(url)
                assert response.status_code in (200, 302, 403), (url, response.status_code)
