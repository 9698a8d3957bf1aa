"""Inserting a batch of rows with one executemany, binding each distinct value once: the declaration hot path."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

Binds = tuple[tuple[str, str, Callable[[Any], Any] | None], ...]  # (parameter name, row key, bind processing)


async def insert_rows(connection: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT the rows (all with the same columns) in one executemany.

    `connection.execute(insert(table), rows)` runs every value of every row through its column's bind
    processing, and under a storm that is most of a batch's CPU while the acks wait. Rows of one batch
    repeat most of their values (the instant, the severity, the declarer), so here each distinct value
    is processed once. The SQL and the processing are still SQLAlchemy's own, for whichever dialect.
    Python-side column defaults are not applied, so a column that has one must be given.
    """
    if not rows:
        return
    dialect = connection.dialect
    sql, params = prepare(table, rows, dialect)
    if dialect.name == "sqlite":  # aiosqlite runs executemany in one trip to its thread, SQLAlchemy's cursor in three
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None  # None only for a connection the pool has already closed
        try:
            await driver.executemany(sql, params)
        except dialect.loaded_dbapi.Error as exc:  # raised as SQLAlchemy would (IntegrityError for a taken key)
            raise DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error) from exc
    else:
        await connection.exec_driver_sql(sql, params)


def prepare(table: Table, rows: Sequence[Mapping[str, Any]], dialect: Dialect) -> tuple[str, list[Any]]:
    """The INSERT for these rows (all with the same columns) and its bound parameters, ready for executemany."""
    sql, binds = _statement(table, tuple(rows[0]), dialect)
    columns = []
    for _, key, process in binds:
        values = [row[key] for row in rows]
        columns.append(values if process is None else _processed(process, values))
    params: list[Any] = list(zip(*columns, strict=True))
    if not dialect.positional:
        params = [dict(zip((name for name, _, _ in binds), values, strict=True)) for values in params]
    return sql, params


@lru_cache(maxsize=64)
def _statement(table: Table, names: tuple[str, ...], dialect: Dialect) -> tuple[str, Binds]:
    """The INSERT's SQL for these columns, and each parameter's row key and bind processing, compiled once."""
    if missing := [c.name for c in table.c if c.default is not None and c.name not in names]:
        raise ValueError(f"insert_rows into {table.name} needs the columns with defaults: {', '.join(missing)}")
    compiled = insert(table).compile(dialect=dialect, column_keys=list(names))
    order = list(compiled.positiontup or []) if dialect.positional else list(compiled.binds)
    binds = tuple(
        (name, compiled.binds[name].key, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in order
    )
    return compiled.string, binds


def _processed(process: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    """The values through the column's bind processing, each distinct one once."""
    try:
        distinct = {value: process(value) for value in set(values)}
    except TypeError:  # unhashable values (JSON documents) are processed one by one
        return [process(value) for value in values]
    return [distinct[value] for value in values]
