"""The schema tells the truth about what the API answers: every GET operation of the OpenAPI,
called as its audience on the demo's data (plus an order, a claimed coupon and a lottery), answers
JSON that validates against the operation's response schema. A field answered ``null`` where the
schema says a non-null type (``host_store_id`` once) fails here."""

import copy
import io
import re
from datetime import timedelta
from urllib.parse import urlencode

import jsonschema
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from commerce.models import Bargain, BargainOffer, Group, GroupBuyOffer, Order, Product, Sku
from conftest import Client
from coupons.models import Coupon, CouponTemplate
from guides.models import Guide, ShareCode, Store
from livestream.models import Festival, FollowUp, LiveRoom, Lottery
from tenants.auth import CustomerAccessToken, staff_tokens
from tenants.models import Brand, Customer, Membership
from tenants.scoping import brand_scope

pytestmark = pytest.mark.django_db

# A path's object, by the path segment before its argument.
PATH_MODELS = {
    "bargain-offers": BargainOffer,
    "bargains": Bargain,
    "brands": Brand,
    "coupon-templates": CouponTemplate,
    "coupons": Coupon,
    "customers": Customer,
    "festivals": Festival,
    "follow-ups": FollowUp,
    "group-buys": GroupBuyOffer,
    "groups": Group,
    "guides": Guide,
    "lotteries": Lottery,
    "orders": Order,
    "products": Product,
    "rooms": LiveRoom,
    "shares": ShareCode,
    "stores": Store,
}
# Of the customer's own, where the mini-program only shows a customer what is theirs.
CUSTOMERS_OWN = {Order: "customer", Coupon: "customer", Bargain: "customer"}


def openapi_to_jsonschema(node):
    """OpenAPI 3.0's ``nullable: true`` → JSON Schema's ``null`` alternative."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: openapi_to_jsonschema(value) for key, value in node.items()}
    if "oneOf" in node:  # blank URLs are oneOf ("", uri): alike when formats are not checked
        node["anyOf"] = node.pop("oneOf")
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=io.StringIO())
    brand = Brand.objects.get(slug="demo")
    customer = Customer.unscoped.filter(brand=brand).order_by("pk").first()
    users = get_user_model().objects
    operator = users.get(username="demo-operator")
    guide = Membership.unscoped.filter(brand=brand, role=Membership.Role.GUIDE).first().user
    clients = {
        "mp": Client(token=str(CustomerAccessToken.for_customer(customer))),
        "console": Client(token=staff_tokens(operator)["access"], brand=brand),
        "guide": Client(token=staff_tokens(guide)["access"], brand=brand),
        "platform": Client(token=staff_tokens(users.get(username="platform"))["access"]),
    }
    clients["staff"] = clients["console"]  # /api/v1/staff/me: any staff user
    _more_of_the_demo(brand, customer, clients)
    return {"brand": brand, "customer": customer, "clients": clients}


def _more_of_the_demo(brand, customer, clients):
    """What a show adds to the seeded demo, through the API: a claimed coupon, an order, a lottery."""
    room = LiveRoom.unscoped.filter(brand=brand, status=LiveRoom.Status.LIVE).first()
    mp, console = clients["mp"], clients["console"]
    template = CouponTemplate.unscoped.filter(brand=brand).order_by("pk").first()
    assert mp.post("/api/v1/mp/coupons/claim", {"template_id": template.pk}).status_code in (200, 201)
    detail = mp.get(f"/api/v1/mp/rooms/{room.pk}").json()
    address = {
        "name": "Amy",
        "phone": "13800000000",
        "province": "上海",
        "city": "上海",
        "district": "静安",
        "detail": "1",
    }
    order = mp.post(
        "/api/v1/mp/orders",
        {
            "room_id": room.pk,
            "lines": [{"sku": detail["products"][0]["skus"][0]["id"], "quantity": 1}],
            "address": address,
        },
        HTTP_IDEMPOTENCY_KEY="conformance-1",
    )
    assert order.status_code == 201, order.content
    lottery = console.post(
        f"/api/v1/console/rooms/{room.pk}/lotteries",
        {"title": "Scarf draw", "prize_kind": "physical", "prize_name": "A scarf", "winner_count": 1},
    )
    assert lottery.status_code == 201, lottery.content
    now = timezone.now()
    window = {"starts_at": now.isoformat(), "ends_at": (now + timedelta(days=1)).isoformat()}
    scarf = Sku.unscoped.get(brand=brand, product__name="Cashmere scarf")
    offers = {
        "group-buys": {"sku_id": scarf.pk, "room_id": room.pk, "price": 19900, "group_size": 2, **window},
        "bargain-offers": {"sku_id": scarf.pk, "floor_price": 9900, "helpers_needed": 3, **window},
    }
    for kind, offer in offers.items():
        created = console.post(f"/api/v1/console/{kind}", offer)
        assert created.status_code == 201, created.content
        offers[kind] = created.json()["id"]
    group = mp.post(
        f"/api/v1/mp/group-buys/{offers['group-buys']}/groups",
        {"address": address},
        HTTP_IDEMPOTENCY_KEY="conformance-2",
    )
    assert group.status_code == 201, group.content
    bargain = mp.post(f"/api/v1/mp/bargain-offers/{offers['bargain-offers']}/bargains")
    assert bargain.status_code == 201, bargain.content
    festival = clients["platform"].post("/api/v1/platform/festivals", {"name": "Double 11", **window})
    assert festival.status_code == 201, festival.content


def get_operations(schema):
    for path, item in schema["paths"].items():
        if "get" in item:
            yield path, item["get"]


def audience_of(path):
    return path.split("/")[3]  # /api/v1/<audience>/...


def fill_path(path, demo):
    """The path with each argument the id of the brand's (or the customer's) first such object."""
    audience = audience_of(path)
    filled = path
    for segment, argument in re.findall(r"([\w-]+)/\{(\w+)\}", path):
        model = PATH_MODELS.get(segment)
        if model is None or (model is Festival and audience == "mp"):  # viewers see running festivals only
            return None
        with brand_scope(demo["brand"]):
            rows = model.objects.all() if model in (Brand, Festival) else model.unscoped.filter(brand=demo["brand"])
            if model is Brand and audience == "platform":
                rows = Brand.objects.filter(pk=demo["brand"].pk)
            if audience == "mp" and model in CUSTOMERS_OWN:
                rows = rows.filter(**{CUSTOMERS_OWN[model]: demo["customer"]})
            if segment == "lotteries" and "rooms/{" in path:
                rows = rows.filter(room_id=int(re.search(r"rooms/(\d+)", filled).group(1)))
            row = rows.order_by("pk").first()
        if row is None:
            return None
        filled = filled.replace("{" + argument + "}", str(row.pk))
    return filled


def required_query(operation, demo):
    """Values for the operation's required query parameters: dates are today, a SKU the brand's first."""
    values = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and parameter.get("required"):
            if parameter["name"] == "sku":
                values["sku"] = Sku.unscoped.filter(brand=demo["brand"]).order_by("pk").first().pk
                continue
            assert parameter["schema"].get("format") == "date", parameter
            values[parameter["name"]] = timezone.localdate().isoformat()
    return "?" + urlencode(values) if values else ""


def test_every_get_answers_what_its_schema_says_on_the_demos_data(demo):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = openapi_to_jsonschema(copy.deepcopy(schema["components"]))
    checked, skipped, failures = [], [], []
    for path, operation in get_operations(schema):
        content = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        if content is None:  # CSV, XLSX, PNG
            skipped.append((path, "not JSON"))
            continue
        url = fill_path(path, demo)
        if url is None:
            skipped.append((path, "no such object in the demo"))
            continue
        url += required_query(operation, demo)
        response = demo["clients"][audience_of(path)].get(url)
        if response.status_code != 200:
            failures.append(f"GET {url}: {response.status_code} {response.content[:200]!r}")
            continue
        validator = jsonschema.Draft7Validator(
            {"allOf": [openapi_to_jsonschema(content["schema"])], "components": components}
        )
        for error in validator.iter_errors(response.json()):
            where = "/".join(str(part) for part in error.absolute_path)
            failures.append(f"GET {path} at {where or '(root)'}: {error.message[:200]}")
        checked.append(path)
    assert not failures, "\n".join(failures)
    assert len(checked) >= 80, (len(checked), skipped)
