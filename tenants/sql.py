"""Statements written out once for the hottest paths (a flash-sale order, every customer
request), where the ORM compiling the same SQL on every call would cost more than running it.

They build and save model instances exactly as the ORM does (the fields' own conversions,
``from_db``, ``pre_save``, the brand-scope check), so the rest of the code sees ordinary model
objects. Use them only where a profile says so; everywhere else the ORM reads better.
"""

from collections.abc import Callable
from contextlib import contextmanager

from django.db import connection


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
        return self.model.from_db(connection.alias, self.attnames, values)


class Inserter:
    """``INSERT … RETURNING id`` for one model, for one instance or many in one statement."""

    def __init__(self, model):
        self.model = model
        meta = model._meta
        self.fields = [field for field in meta.concrete_fields if field is not meta.pk]
        self.head = f"INSERT INTO {meta.db_table} ({', '.join(f'{chr(34)}{f.column}{chr(34)}' for f in self.fields)})"
        self.row = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        self.returning = f' RETURNING "{meta.pk.column}"'

    def _values(self, obj) -> list:
        assign_brand = getattr(obj, "assign_scope_brand", None)
        if assign_brand is not None:
            assign_brand()
        return [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in self.fields]

    def insert(self, objs: list) -> list:
        return self.send(objs)()

    def send(self, objs: list) -> Callable[[], list]:
        """Send the INSERT (inside ``batch()`` its answer comes later); answers the function that,
        called after the batch, gives the objects their new ids and answers them."""
        if not objs:
            return lambda: objs
        params = [value for obj in objs for value in self._values(obj)]
        cursor = connection.cursor()
        cursor.execute(self.head + " VALUES " + ", ".join([self.row] * len(objs)) + self.returning, params)

        def saved() -> list:
            with cursor:
                ids = [row[0] for row in cursor.fetchall()]
            for obj, pk in zip(objs, ids, strict=True):
                obj.pk = pk
                obj._state.adding, obj._state.db = False, connection.alias
            return objs

        return saved


def select(sql: str, params) -> Callable[[], list[tuple]]:
    """Send a SELECT (inside ``batch()`` its rows come later); answers the function that fetches them."""
    cursor = connection.cursor()
    cursor.execute(sql, params)

    def rows() -> list[tuple]:
        with cursor:
            return cursor.fetchall()

    return rows


class Claim:
    """A conditional write (``UPDATE … WHERE remaining >= n``, an upsert within a limit), sent at
    once; ``confirm()``, after the batch it was sent in, raises ``refusal()`` if it changed no row."""

    def __init__(self, sql: str, params, refusal: Callable[[], Exception]):
        self.cursor = connection.cursor()
        self.cursor.execute(sql, params)
        self.refusal = refusal

    def confirm(self) -> None:
        with self.cursor:
            changed = self.cursor.rowcount
        if not changed:
            raise self.refusal()


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
    with connection.wrap_database_errors, pipeline():
        yield
