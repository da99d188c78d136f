"""Statements written out once for the hottest paths (a flash-sale order, every customer
request), where the ORM compiling the same SQL on every call would cost more than running it.

They build and save model instances exactly as the ORM does (the fields' own conversions,
``from_db``, ``pre_save``, the brand-scope check; integer, text and boolean columns are sent as
they are, which is all their conversion would do), so the rest of the code sees ordinary model
objects. Use them only where a profile says so; everywhere else the ORM reads better.
"""

from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar

from django.db import DatabaseError, connection, models, transaction
from psycopg import _queries as psycopg_queries

# psycopg parses a statement's placeholders once and remembers it, but only for statements of up
# to 50 parameters and 4 KB; an order's writes are one statement of about 70 (writes_together), so
# it was parsed again on every order (0.14 ms of its 1.6-2.3 ms of CPU, measured in one process).
# Raised here for every statement; the cache stays bounded (an LRU of 128 statements). A test
# (tests/tenants/test_sql.py) fails if psycopg renames these.
psycopg_queries.MAX_CACHED_STATEMENT_PARAMS = max(psycopg_queries.MAX_CACHED_STATEMENT_PARAMS, 200)
psycopg_queries.MAX_CACHED_STATEMENT_LENGTH = max(psycopg_queries.MAX_CACHED_STATEMENT_LENGTH, 16384)


class RowLoader:
    """Selects all columns of a model under a table alias and builds instances from rows."""

    def __init__(self, model, alias: str):
        self.model = model
        self.fields = model._meta.concrete_fields
        self.columns = ", ".join(f'{alias}."{field.column}"' for field in self.fields)
        self.attnames = [field.attname for field in self.fields]
        self.width = len(self.fields)
        self._converters = None

    def build(self, values):
        return self.model.from_db(connection.alias, self.attnames, self.convert(values))

    def convert(self, values) -> list:
        """A row's values as the model's fields hold them."""
        if self._converters is None:
            self._converters = [
                [
                    *connection.ops.get_db_converters(field.get_col(field.model._meta.db_table)),
                    *field.get_db_converters(connection),
                ]
                for field in self.fields
            ]
        values = list(values)
        for index, converters in enumerate(self._converters):
            for convert in converters:
                values[index] = convert(values[index], self.fields[index], connection)
        return values


class Inserter:
    """``INSERT … RETURNING id`` for one model, for one instance or many in one statement.
    ``with_pk``: the instances bring their ids (``reserve_id``)."""

    def __init__(self, model, *, with_pk: bool = False):
        self.model = model
        meta = model._meta
        self.fields = [field for field in meta.concrete_fields if with_pk or field is not meta.pk]
        self.head = f"INSERT INTO {meta.db_table} ({', '.join(f'{chr(34)}{f.column}{chr(34)}' for f in self.fields)})"
        self.row = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        self.returning = f'"{meta.pk.column}"'
        self._plain = None

    def _values(self, obj) -> list:
        assign_brand = getattr(obj, "assign_scope_brand", None)
        if assign_brand is not None:
            assign_brand()
        if self._plain is None:
            self._plain = [_is_plain(field) for field in self.fields]
        db = connection._connections[connection._alias]  # the wrapper itself, not the proxy, 40 times
        return [
            getattr(obj, field.attname) if plain else field.get_db_prep_save(field.pre_save(obj, True), db)
            for field, plain in zip(self.fields, self._plain, strict=True)
        ]

    def insert(self, objs: list) -> list:
        return self.send(objs)()

    def send(self, objs: list) -> Callable[[], list]:
        """Send the INSERT (inside ``writes_together()`` with the others there); answers the function
        that, called after the block, gives the objects their new ids and answers them."""
        if not objs:
            return lambda: objs
        params = [value for obj in objs for value in self._values(obj)]
        rows = _write(self.head + " VALUES " + ", ".join([self.row] * len(objs)), params, self.returning)

        def saved() -> list:
            for obj, (pk,) in zip(objs, rows(), strict=True):
                obj.pk = pk
                obj._state.adding, obj._state.db = False, connection.alias
            return objs

        return saved


# Integer, text and boolean columns: their conversion only checks the Python type (``int(value)``,
# ``str(value)``), and psycopg adapts the value itself.
_PLAIN_FIELDS = frozenset(
    {
        models.AutoField,
        models.BigAutoField,
        models.IntegerField,
        models.BigIntegerField,
        models.SmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveSmallIntegerField,
        models.PositiveBigIntegerField,
        models.CharField,
        models.TextField,
        models.BooleanField,
    }
)


def _is_plain(field) -> bool:
    """On PostgreSQL, a field whose attribute is sent as it is: one of ``_PLAIN_FIELDS`` (or a foreign
    key to one) with no ``pre_save`` of its own. Every other field, and every field elsewhere
    (SQLite), goes through its own conversion."""
    target = field.target_field if field.is_relation else field
    plain = type(target) in _PLAIN_FIELDS and type(field).pre_save is models.Field.pre_save
    return plain and connection.vendor == "postgresql"


def select(sql: str, params) -> Callable[[], list[tuple]]:
    """Send a SELECT (inside ``batch()`` its rows come later); answers the function that fetches them."""
    return _answer(_execute(sql, params))


def _execute(sql: str, params):
    cursor = connection.cursor()
    cursor.execute(sql, params)
    return cursor


def _answer(cursor) -> Callable[[], list[tuple]]:
    """The rows of the statement just sent on ``cursor``, read once: when first asked for (after
    the batch, in a pipeline) or, where statements are not pipelined, at once (SQLite: a result left
    open would keep the savepoint it was read in from being released)."""
    found = None

    def rows() -> list[tuple]:
        nonlocal found
        if found is None:
            with connection.wrap_database_errors, cursor:
                found = cursor.fetchall()
        return found

    if getattr(connection.connection, "pipeline", None) is None:
        rows()
    return rows


def reserve_id(model) -> Callable[[], int | None]:
    """A new id for a row of ``model`` from its sequence, asked at once (inside ``batch()``, with
    other reads), so that the rows referring to it can be written together with the row; call
    the answer for it. None where ids are not reserved (SQLite): the row's INSERT assigns its id."""
    if connection.vendor != "postgresql":
        return lambda: None
    meta = model._meta
    rows = select("SELECT nextval(pg_get_serial_sequence(%s, %s))", [meta.db_table, meta.pk.column])
    return lambda: rows()[0][0]


class Claim:
    """A write that takes something limited (stock, a flash sale's units, a customer's allowance),
    to ``send()`` inside ``writes_together()``. The database refuses it: a refused claim writes a
    value that a CHECK constraint of its table forbids (stock below zero, a sale past its
    quantity), so the statement fails and rolls back with everything else written with it. No row
    count is read back, so the claims can travel with the rows they are for.

    ``refusal()`` looks again and says why the claim is refused: an exception to raise, or None if
    it would pass now. ``returning``: a column (expression) of the claimed row to read back after
    the block, as ``answer()`` (the stock left, say)."""

    def __init__(self, sql: str, params, refusal: Callable[[], Exception | None], returning: str = ""):
        self.sql, self.params, self.refusal, self.returning = sql, params, refusal, returning
        self.answer: Callable[[], list[tuple]] = list

    def send(self) -> None:
        self.answer = _write(self.sql, self.params, self.returning)


def claim_refusal(claims: list[Claim]) -> Exception | None:
    """After an IntegrityError from the writes that ``claims`` were sent with: the first refusal
    among them, or None if none is refused (the error was another, such as a unique key)."""
    for claim in claims:
        if (refusal := claim.refusal()) is not None:
            return refusal
    return None


@contextmanager
def batch():
    """Send the statements run inside in one round trip to PostgreSQL (psycopg 3's pipeline mode),
    including the BEGIN of a transaction that starts here; elsewhere they run one by one. Their
    results (ids, row counts) are read after the block; a fetch inside it waits for everything
    sent so far. Statements keep their order, so locks are still taken in the order written."""
    connection.ensure_connection()
    pipeline = getattr(connection.connection, "pipeline", None)
    if pipeline is None:  # SQLite, psycopg2
        yield
        return
    failed = None
    with connection.wrap_database_errors:
        try:
            with pipeline():
                try:
                    yield
                except DatabaseError as error:
                    # A statement failed while later ones were being sent. Let the pipeline end (it
                    # answers "aborted" for the rest) and raise the failure itself, instead of
                    # psycopg logging the two as an error it ignored.
                    failed = error
        except Exception:
            if failed is None:
                raise
    if failed is not None:
        raise failed


_together: ContextVar[list | None] = ContextVar("tenants_sql_together", default=None)


class _Queued:
    def __init__(self, sql, params, returning):
        self.sql, self.params, self.returning, self.found = sql, params, returning, []

    def rows(self) -> list[tuple]:
        return self.found


def _write(sql: str, params, returning: str = "") -> Callable[[], list[tuple]]:
    """Send an INSERT or UPDATE (``returning``: the column its answer gives) now, or inside
    ``writes_together()`` with the others there; answers the function that gives its rows."""
    queued = _together.get()
    if queued is None:
        return _answer(_execute(f"{sql} RETURNING {returning}" if returning else sql, params))
    queued.append(write := _Queued(sql, params, returning))
    return write.rows


@contextmanager
def writes_together():
    """The INSERTs and claims sent inside (``Inserter.send``, ``Claim.send``) run as one: all of
    them, or none. Their answers (ids) are read after the block.

    On PostgreSQL they are one statement, each of them a WITH of it and all of them read in the
    order sent, so they run, and take their row locks, in that order. Outside a transaction that
    statement commits itself: one round trip, no BEGIN and no COMMIT, so a flash-sale order holds
    its locks on the hot rows for the time of one statement (inside a transaction: a savepoint).
    Refusals must therefore raise in the database (``Claim``): nothing can be read back between
    them. Two of them must not change the same row (a statement changes a row once): claim a row's
    units in one claim. If the block raises, none of them is sent.

    Elsewhere (SQLite) they run one by one in a transaction, each as it is sent."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            yield
        return
    queued = []
    token = _together.set(queued)
    try:
        yield
    finally:
        _together.reset(token)
    if queued:
        # Inside a transaction, a savepoint: a refused claim must not leave the transaction unusable.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            _run_together(queued)


def _run_together(queued: list[_Queued]) -> None:
    parts = ", ".join(
        f"w{n} AS ({write.sql} RETURNING {write.returning or 'NULL::bigint'} AS answer)"
        for n, write in enumerate(queued)
    )
    # UNION ALL reads each WITH to its end before the next: the order in which they run.
    answers = " UNION ALL ".join(f"SELECT {n}, answer FROM w{n}" for n in range(len(queued)))
    rows = _answer(_execute(f"WITH {parts} {answers}", [value for write in queued for value in write.params]))
    for n, answer in rows():
        queued[n].found.append((answer,))
