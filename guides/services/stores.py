"""Stores and guides: create, change, leave, and onboard many at once from a CSV file.

An import is all or nothing: every line is checked first, every error is reported with its line
number, and only a file without errors is written, in one transaction.
"""

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from guides.models import Binding, Guide, Store
from tenants import text as text_rule
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand, Membership
from tenants.selectors import brand_account

MAX_IMPORT_LINES = 5000
MAX_IMPORT_BYTES = 2 * 1024 * 1024


def _errors_of(exc: ValidationError) -> dict:
    return {name: [str(message) for message in messages] for name, messages in exc.message_dict.items()}


# --- stores --------------------------------------------------------------------------------------

STORE_FIELDS = ("code", "name", "address", "latitude", "longitude", "status")


def _store_manager(brand: Brand, username: str):
    """A store's manager is one of the brand's own accounts (``tenants.selectors.brand_account``);
    a username of another brand's account answers as one that does not exist."""
    user = brand_account(brand, username)
    if user is None:
        raise InvalidInput("invalid", "No such user in the brand.", fields={"manager": ["No such user in the brand."]})
    return user


def _save_store(brand: Brand, store: Store) -> Store:
    try:
        store.full_clean()
    except ValidationError as exc:
        raise InvalidInput("invalid", "The store is not valid.", fields=_errors_of(exc)) from exc
    store.save()
    return store


@transaction.atomic
def store_create(*, brand: Brand, manager_username: str = "", **fields) -> Store:
    store = Store(brand=brand, **{name: value for name, value in fields.items() if name in STORE_FIELDS})
    store.manager = _store_manager(brand, manager_username) if manager_username else None
    return _save_store(brand, store)


@transaction.atomic
def store_update(*, brand: Brand, store: Store, manager_username: str | None = None, **fields) -> Store:
    for name, value in fields.items():
        if name in STORE_FIELDS:
            setattr(store, name, value)
    if manager_username is not None:
        store.manager = _store_manager(brand, manager_username) if manager_username else None
    return _save_store(brand, store)


# --- guides --------------------------------------------------------------------------------------


def _check_leader(guide: Guide, leader: Guide | None) -> None:
    """Teams are two levels: a leader leads guides, and has no leader of their own."""
    if leader is None:
        return
    if leader.pk is not None and leader.pk == guide.pk:
        raise InvalidInput("invalid_leader", "A guide cannot lead themselves.", fields={"leader": ["Themselves."]})
    if leader.leader_id is not None:
        raise InvalidInput(
            "invalid_leader", "A leader has no leader of their own.", fields={"leader": ["Not a leader."]}
        )
    if leader.status != Guide.Status.ACTIVE:
        raise InvalidInput("invalid_leader", "The leader has left.", fields={"leader": ["Has left."]})
    if guide.pk is not None and Guide.objects.filter(leader=guide).exists():
        raise InvalidInput("invalid_leader", "A leader cannot join another team.", fields={"leader": ["Leads a team."]})


USERNAME_TAKEN = "This username is taken: choose another, or invite the account to the brand."


def _guide_account(brand: Brand, username: str, password: str) -> tuple:
    """The account a new guide logs in with, and what stands in the way, by field.

    The brand's own account (``tenants.selectors.brand_account``) keeps its password; any other
    username needs a new account. Another brand's account is never taken over: its username answers
    as one to be created, so the answer names no account of another brand until a valid password
    makes it a sign-up, which a taken username must refuse.
    """
    user = brand_account(brand, username)
    if user is not None:
        membership = Membership.objects.filter(user=user).first()
        if membership is not None and membership.role in Membership.CONSOLE_ROLES:
            return user, {"username": ["An owner or operator cannot be a guide."]}
        return user, {}
    errors = {}
    try:
        get_user_model().username_validator(username)
    except ValidationError as exc:
        errors["username"] = list(exc.messages)
    if not password:
        errors["password"] = ["A new user needs a password."]
    else:
        try:
            validate_password(password)
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if not errors and get_user_model().objects.filter(username=username).exists():
        errors["username"] = [USERNAME_TAKEN]
    return None, errors


def _guide_user(brand: Brand, username: str, password: str):
    """The staff user of a new guide: the brand's own account, or a new one made here."""
    user, errors = _guide_account(brand, username, password)
    if errors.get("username") == [USERNAME_TAKEN]:
        raise Conflict("username_taken", USERNAME_TAKEN, fields=errors)
    if user is not None and errors:
        raise Conflict("not_a_guide", "An owner or operator cannot be a guide.", fields=errors)
    if errors.get("password") == ["A new user needs a password."]:
        raise InvalidInput("invalid", "A new user needs a password.", fields=errors)
    if errors:
        raise InvalidInput("invalid", "Not a valid login.", fields=errors)
    if user is None:
        try:
            with transaction.atomic():
                user = get_user_model().objects.create_user(username=username, password=password)
        except IntegrityError as exc:  # a parallel sign-up took the username after the check
            raise Conflict("username_taken", USERNAME_TAKEN, fields={"username": [USERNAME_TAKEN]}) from exc
    if not Membership.objects.filter(user=user).exists():
        Membership.objects.create(brand=brand, user=user, role=Membership.Role.GUIDE)
    return user


@transaction.atomic
def guide_create(
    *,
    brand: Brand,
    username: str,
    name: str,
    password: str = "",
    store: Store | None = None,
    kind: str = Guide.Kind.STORE_GUIDE,
    leader: Guide | None = None,
    openid: str = "",
) -> Guide:
    user = _guide_user(brand, username, password)
    if Guide.objects.filter(user=user).exists():
        raise Conflict("guide_exists", "This user is a guide of the brand already.", fields={"username": ["Taken."]})
    guide = Guide(brand=brand, user=user, name=name, store=store, kind=kind, leader=leader, openid=openid)
    _check_leader(guide, leader)
    try:
        guide.full_clean(exclude=["user"])
    except ValidationError as exc:
        raise InvalidInput("invalid", "The guide is not valid.", fields=_errors_of(exc)) from exc
    guide.save()
    return guide


GUIDE_FIELDS = ("name", "store", "kind", "leader", "openid")


@transaction.atomic
def guide_update(*, brand: Brand, guide: Guide, **fields) -> Guide:
    guide = Guide.objects.select_for_update().get(pk=guide.pk)
    if guide.status != Guide.Status.ACTIVE:
        raise Conflict("guide_inactive", "A guide who left cannot be changed.")
    for name, value in fields.items():
        if name in GUIDE_FIELDS:
            setattr(guide, name, value)
    if "leader" in fields:
        _check_leader(guide, guide.leader)
    try:
        guide.full_clean(exclude=["user"])
    except ValidationError as exc:
        raise InvalidInput("invalid", "The guide is not valid.", fields=_errors_of(exc)) from exc
    guide.save()
    return guide


@transaction.atomic
def guide_leave(*, brand: Brand, guide: Guide) -> Guide:
    """The guide leaves the brand: they stop binding, their customers fall back to their store
    (and any new share may take them over), and their team has no leader."""
    now = timezone.now()
    if not Guide.objects.filter(pk=guide.pk, status=Guide.Status.ACTIVE).update(status=Guide.Status.LEFT, left_at=now):
        raise Conflict("guide_inactive", "The guide has left already.")
    Binding.objects.filter(guide=guide).update(guide=None, protected_until=now)
    Guide.objects.filter(leader=guide).update(leader=None)
    guide.refresh_from_db()
    return guide


# --- CSV import ----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: dict[int, dict] = field(default_factory=dict)


def _rows(data: bytes, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    """The CSV's rows with their line numbers (the header is line 1); a malformed file is one error."""
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput("file_too_large", f"At most {MAX_IMPORT_BYTES // 1024} KB.", fields={"file": ["Too large."]})
    try:
        text = data.decode("utf-8-sig")  # Excel saves UTF-8 with a BOM
    except UnicodeDecodeError as exc:
        raise InvalidInput("invalid_csv", "The file is not UTF-8 text.", fields={"file": ["Not UTF-8."]}) from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in required if name not in header]
    if missing:
        message = f"The header lacks {', '.join(missing)}."
        raise InvalidInput("invalid_csv", message, fields={"file": [message]})
    reader.fieldnames = header
    rows, invalid = [], {}
    for row in reader:
        if len(rows) == MAX_IMPORT_LINES:
            raise InvalidInput(
                "invalid_csv", f"At most {MAX_IMPORT_LINES} lines.", fields={"file": ["Too many lines."]}
            )
        if None in row:
            rows.append((reader.line_num, {None: True}))
            continue
        clean = {key: (value or "").strip() for key, value in row.items()}
        bad = {key: [text_rule.MESSAGE] for key, value in clean.items() if not text_rule.is_valid_text(value)}
        if bad:  # the one text rule (tenants.text): a NUL would reach PostgreSQL, which refuses it
            invalid[str(reader.line_num)] = bad
        elif any(clean.values()):
            rows.append((reader.line_num, clean))
    if invalid or not all(text_rule.is_valid_text(name) for name in header):
        raise InvalidInput(
            text_rule.INVALID_TEXT,
            f"{len(invalid) or 1} line(s) hold text with NUL characters; nothing was imported.",
            fields={"lines": invalid or {"1": {"header": [text_rule.MESSAGE]}}},
        )
    if not rows:
        raise InvalidInput("invalid_csv", "The file has no rows.", fields={"file": ["Empty."]})
    return rows


def _raise_if_errors(errors: dict[int, dict]) -> None:
    if errors:
        raise InvalidInput(
            "import_invalid",
            f"{len(errors)} line(s) have errors; nothing was imported.",
            fields={"lines": {str(line): problems for line, problems in sorted(errors.items())}},
        )


def _coordinate(value: str, name: str, errors: dict):
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        errors[name] = ["Not a number."]
        return None
    if not number.is_finite():
        errors[name] = ["Not a number."]
        return None
    return number


@transaction.atomic
def stores_import(*, brand: Brand, data: bytes) -> ImportReport:
    """Columns ``code,name[,address,latitude,longitude,manager,status]``: a code the brand has
    updates that store, a new code creates one."""
    rows = _rows(data, ("code", "name"))
    existing = {store.code: store for store in Store.objects.all()}
    report, seen, planned = ImportReport(), {}, []
    for line, row in rows:
        errors: dict = {}
        if None in row:
            report.errors[line] = {"line": ["More values than the header has columns."]}
            continue
        code = row["code"]
        if code in seen:
            errors["code"] = [f"Also on line {seen[code]}."]
        seen.setdefault(code, line)
        store = existing.get(code) or Store(brand=brand)
        store.code, store.name = code, row["name"]
        for name in ("address",):
            if name in row:
                setattr(store, name, row[name])
        store.latitude = _coordinate(row.get("latitude", ""), "latitude", errors)
        store.longitude = _coordinate(row.get("longitude", ""), "longitude", errors)
        if row.get("status"):
            store.status = row["status"]
        if row.get("manager"):
            store.manager = brand_account(brand, row["manager"])
            if store.manager is None:
                errors["manager"] = ["No such user in the brand."]
        try:
            store.full_clean(exclude=["brand", "manager"], validate_unique=False)
        except ValidationError as exc:
            errors.update(_errors_of(exc))
        if errors:
            report.errors[line] = errors
        else:
            planned.append(store)
    _raise_if_errors(report.errors)
    for store in planned:
        if store.pk:
            report.updated += 1
        else:
            report.created += 1
        store.save()
    return report


@transaction.atomic
def guides_import(*, brand: Brand, data: bytes) -> ImportReport:
    """Columns ``username,name[,password,store,kind,leader,openid]``: ``store`` is a store code,
    ``leader`` the username of a guide (already there or on another line). Existing guides are
    skipped with an error: an import onboards, the console changes."""
    rows = _rows(data, ("username", "name"))
    stores = {store.code: store for store in Store.objects.all()}
    guides_by_username = {guide.user.username: guide for guide in Guide.objects.select_related("user")}
    report, seen, planned = ImportReport(), {}, []
    in_file = {row.get("username") for _, row in rows if None not in row}
    for line, row in rows:
        errors: dict = {}
        if None in row:
            report.errors[line] = {"line": ["More values than the header has columns."]}
            continue
        username = row["username"]
        if username in seen:
            errors["username"] = [f"Also on line {seen[username]}."]
        seen.setdefault(username, line)
        if username in guides_by_username:
            errors["username"] = ["Already a guide of the brand."]
        for name, problems in _guide_account(brand, username, row.get("password", ""))[1].items():
            errors.setdefault(name, []).extend(problems)
        store = None
        if row.get("store"):
            store = stores.get(row["store"])
            if store is None:
                errors["store"] = ["No such store code."]
        kind = row.get("kind") or Guide.Kind.STORE_GUIDE
        if kind not in Guide.Kind.values:
            errors["kind"] = [f"One of {', '.join(Guide.Kind.values)}."]
        leader = row.get("leader", "")
        if leader:
            if leader == username:
                errors["leader"] = ["A guide cannot lead themselves."]
            elif leader not in guides_by_username and leader not in in_file:
                errors["leader"] = ["No such guide."]
            elif leader in guides_by_username and guides_by_username[leader].leader_id is not None:
                errors["leader"] = ["A leader has no leader of their own."]
        if not row["name"] or len(row["name"]) > 64:
            errors["name"] = ["1 to 64 characters."]
        if len(row.get("openid", "")) > 64:
            errors["openid"] = ["At most 64 characters."]
        if errors:
            report.errors[line] = errors
        else:
            planned.append((line, row, store, kind))
    leaders_in_file = {row.get("leader") for _, row, _, _ in planned if row.get("leader")}
    for line, row, _, _ in planned:
        if row["username"] in leaders_in_file and row.get("leader"):
            report.errors[line] = {"leader": ["A leader has no leader of their own."]}
    _raise_if_errors(report.errors)
    created = {}
    for _, row, store, kind in planned:
        user = _guide_user(brand, row["username"], row.get("password", ""))
        created[row["username"]] = Guide.objects.create(
            brand=brand, user=user, name=row["name"], store=store, kind=kind, openid=row.get("openid", "")
        )
    for _, row, _, _ in planned:
        if row.get("leader"):
            guide = created[row["username"]]
            guide.leader = created.get(row["leader"]) or guides_by_username[row["leader"]]
            guide.save(update_fields=["leader"])
    report.created = len(created)
    return report


def get_store(store_id) -> Store:
    store = Store.objects.filter(pk=store_id).first()
    if store is None:
        raise NotFound("store_not_found", "No such store.")
    return store


def get_guide(guide_id) -> Guide:
    guide = Guide.objects.filter(pk=guide_id).select_related("user", "store", "leader").first()
    if guide is None:
        raise NotFound("guide_not_found", "No such guide.")
    return guide
