#!/usr/bin/python3
"""asyncpg through pggat (run by cli_clients_test.cpp).

    asyncpg_client.py HOST PORT TABLE

Runs parameterized queries, prepared statements (fetchval, fetch, a cursor
over a portal), a committed transaction and a rolled-back one on TABLE
(created here), then prints one "label: value" line per check. Any mismatch
is printed to stderr and exits 1; an exception exits non-zero too.
"""
import asyncio
import sys

import asyncpg


def check(label, got, want):
    if got != want:
        print(f"MISMATCH {label}: got {got!r}, want {want!r}", file=sys.stderr)
        sys.exit(1)
    print(f"{label}: {got}")


class Rollback(Exception):
    pass


async def main():
    host, port, table = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    quoted = '"' + table.replace('"', '""') + '"'
    conn = await asyncpg.connect(host=host, port=port, user="app", database="app",
                                 timeout=10, command_timeout=10)
    try:
        row = await conn.fetchrow("select current_user as u, current_database() as d")
        check("user", (row["u"], row["d"]), ("app", "app"))

        check("params", await conn.fetchval("select $1::int + $2::int", 40, 2), 42)

        stmt = await conn.prepare("select g, g * $1::int from generate_series(1, $2::int) g")
        rows = await stmt.fetch(10, 3)
        check("prepared fetch", [tuple(r) for r in rows], [(1, 10), (2, 20), (3, 30)])
        rows = await stmt.fetch(7, 2)
        check("prepared again", [tuple(r) for r in rows], [(1, 7), (2, 14)])
        doubled = await conn.prepare("select $1::int * 2")
        check("prepared fetchval", await doubled.fetchval(21), 42)

        async with conn.transaction():
            got = [r[0] async for r in conn.cursor("select generate_series(1, 7)", prefetch=3)]
        check("cursor", got, list(range(1, 8)))

        await conn.execute(f"drop table if exists {quoted}")
        await conn.execute(f"create table {quoted} (id int primary key, note text)")
        async with conn.transaction():
            await conn.execute(f"insert into {quoted} values ($1, $2)", 1, "one")
            await conn.executemany(f"insert into {quoted} values ($1, $2)",
                                   [(2, "two"), (3, "three")])
        try:
            async with conn.transaction():
                await conn.execute(f"insert into {quoted} values ($1, $2)", 4, "four")
                check("in transaction", conn.is_in_transaction(), True)
                raise Rollback()
        except Rollback:
            pass
        check("after rollback", conn.is_in_transaction(), False)
        rows = await conn.fetch(f"select id, note from {quoted} order by id")
        check("rows", [tuple(r) for r in rows], [(1, "one"), (2, "two"), (3, "three")])
    finally:
        await conn.close()

    # A second connection (a new session through pggat) sees the committed rows.
    conn = await asyncpg.connect(host=host, port=port, user="app", database="app",
                                 timeout=10, command_timeout=10)
    try:
        check("second connection", await conn.fetchval(f"select count(*) from {quoted}"), 3)
    finally:
        await conn.close()
    print("asyncpg OK")


if __name__ == "__main__":
    asyncio.run(main())
