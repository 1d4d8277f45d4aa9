"""`python -m bot migrate-db --to postgresql://...`: copy a SQLite database into PostgreSQL.

Run it with the bot stopped, into a new database (or one an earlier run of it filled). Both
databases are first brought to the newest schema (what the bot does at start-up), then every row of
every table is copied with its id (`ON CONFLICT DO NOTHING`: running it again copies only what is
missing, so an interrupted copy is simply run again), the id sequences are moved past the copied
ids, and the copy is checked: the same number of rows in each table and, per user and bucket, the
same credit sum. Any difference is reported and the exit status is 1 (a target that already held
other rows with the same ids shows up here: those rows are never overwritten); nothing in the
SQLite file is changed beyond its own migrations.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.storage.db import Database, Row, is_postgres_url

# Parents first (foreign keys), and the order ids were given in.
TABLES = ("users", "jobs", "job_transitions", "ledger")
PRIMARY_KEYS = {"users": "user_id", "jobs": "id", "job_transitions": "id", "ledger": "id"}
IDENTITY_TABLES = ("jobs", "job_transitions", "ledger")
BATCH = 500

_BALANCES = "SELECT user_id, bucket, SUM(amount) FROM ledger GROUP BY user_id, bucket"


@dataclass
class CopyReport:
    copied: dict[str, int] = field(default_factory=dict)  # rows inserted now, per table
    rows: dict[str, tuple[int, int]] = field(default_factory=dict)  # (sqlite, postgresql)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def copy_sqlite_to_postgres(source: Path, target_url: str) -> CopyReport:
    """Copy every table; idempotent; the report lists any difference left afterwards."""
    src, dst = Database(source), Database(target_url)
    await src.open()
    try:
        await dst.open()
        try:
            return await _copy(src, dst)
        finally:
            await dst.close()
    finally:
        await src.close()


async def _column_types(dst: Database, table: str) -> dict[str, str]:
    rows = await dst.fetchall(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ?",
        (table,),
    )
    return {str(r[0]): str(r[1]) for r in rows}


def _coerce(value: Any, data_type: str) -> Any:
    """SQLite stores what it was given; PostgreSQL wants the column's own type."""
    if value is None:
        return None
    if data_type == "bigint":
        return int(value)
    if data_type == "double precision":
        return float(value)
    if data_type == "text":
        return str(value)
    return value


async def _copy(src: Database, dst: Database) -> CopyReport:
    report = CopyReport()
    for table in TABLES:
        types = await _column_types(dst, table)
        columns = [str(r[1]) for r in await src.fetchall(f"PRAGMA table_info({table})")]
        missing = [c for c in columns if c not in types]
        if missing:
            report.problems.append(f"{table}: columns missing in PostgreSQL: {missing}")
            continue
        names = ", ".join(columns)
        insert = (
            f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))}) "
            "ON CONFLICT DO NOTHING"
        )
        rows = await src.fetchall(f"SELECT {names} FROM {table} ORDER BY {PRIMARY_KEYS[table]}")
        copied = 0
        for start in range(0, len(rows), BATCH):
            async with dst.transaction() as tx:
                for row in rows[start : start + BATCH]:
                    values = [_coerce(v, types[c]) for c, v in zip(columns, row, strict=True)]
                    copied += (await tx.execute(insert, values)).rowcount
        report.copied[table] = copied
    async with dst.transaction() as tx:
        for table in IDENTITY_TABLES:
            # The next id the bot gets on PostgreSQL comes after every copied one.
            await tx.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
    await _verify(src, dst, report)
    return report


async def _count(db: Database, table: str) -> int:
    row = await db.fetchone(f"SELECT COUNT(*) FROM {table}")
    return int(row[0]) if row else 0


def _balances(rows: list[Row]) -> dict[tuple[int, str], int]:
    return {(int(r[0]), str(r[1])): int(r[2]) for r in rows}


async def _verify(src: Database, dst: Database, report: CopyReport) -> None:
    for table in TABLES:
        counts = (await _count(src, table), await _count(dst, table))
        report.rows[table] = counts
        if counts[0] != counts[1]:
            report.problems.append(
                f"{table}: {counts[0]} rows in SQLite, {counts[1]} in PostgreSQL"
            )
    before = _balances(await src.fetchall(_BALANCES))
    after = _balances(await dst.fetchall(_BALANCES))
    for key in sorted(set(before) | set(after)):
        if before.get(key, 0) != after.get(key, 0):
            report.problems.append(
                f"user {key[0]} {key[1]} credits: {before.get(key, 0)} in SQLite, "
                f"{after.get(key, 0)} in PostgreSQL"
            )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot migrate-db",
        description="Copy the SQLite database into PostgreSQL (idempotent; stop the bot first).",
    )
    parser.add_argument("--to", required=True, help="postgresql://user:password@host/database")
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=Path(os.environ.get("DATABASE_PATH") or "data/photo2video.db"),
        help="the SQLite file (default: DATABASE_PATH, or data/photo2video.db)",
    )
    args = parser.parse_args(argv)
    if not is_postgres_url(args.to):
        parser.error("--to must be a postgresql:// URL")
    if not args.source.is_file():
        parser.error(f"no SQLite database at {args.source}")
    try:
        report = asyncio.run(copy_sqlite_to_postgres(args.source, args.to))
    except Exception as exc:  # a command-line tool: say what went wrong, exit 1
        print(f"migrate-db: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for table in TABLES:
        if table in report.rows:
            sqlite_rows, pg_rows = report.rows[table]
            print(
                f"{table}: {report.copied.get(table, 0)} copied now; "
                f"{sqlite_rows} rows in SQLite, {pg_rows} in PostgreSQL"
            )
    for problem in report.problems:
        print(f"MISMATCH {problem}", file=sys.stderr)
    if report.ok:
        print("checked: row counts and every user's credit balance are equal")
    return 0 if report.ok else 1
