"""Inserting a batch of rows with one executemany, binding each distinct value once: the declaration hot path."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection


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
    names = list(rows[0])
    if missing := [c.name for c in table.c if c.default is not None and c.name not in names]:
        raise ValueError(f"insert_rows into {table.name} needs the columns with defaults: {', '.join(missing)}")
    dialect = connection.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=names)
    order = list(compiled.positiontup or []) if dialect.positional else list(compiled.binds)
    columns = []
    for name in order:
        bind = compiled.binds[name]
        values = [row[bind.key] for row in rows]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        columns.append(values if process is None else _processed(process, values))
    params: list[Any] = list(zip(*columns))
    if not dialect.positional:
        params = [dict(zip(order, values)) for values in params]
    await connection.exec_driver_sql(compiled.string, params)


def _processed(process: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    """The values through the column's bind processing, each distinct one once."""
    try:
        distinct = {value: process(value) for value in set(values)}
    except TypeError:  # unhashable values (JSON documents) are processed one by one
        return [process(value) for value in values]
    return [distinct[value] for value in values]
