#!/usr/bin/python3
"""psycopg 3 through pggat (run by cli_clients_test.cpp).

    psycopg_client.py CONNINFO TABLE [transaction]

Runs parameterized queries (plain, server-side prepared with prepare=True,
binary), a committed transaction and a rolled-back one on TABLE (created
here), then prints one "label: value" line per check. Any mismatch is printed
to stderr and exits 1; an exception exits non-zero too.
"""
import sys

import psycopg
from psycopg import sql


def check(label, got, want):
    if got != want:
        print(f"MISMATCH {label}: got {got!r}, want {want!r}", file=sys.stderr)
        sys.exit(1)
    print(f"{label}: {got}")


def main():
    conninfo, table_name = sys.argv[1:3]
    transaction_mode = sys.argv[3:] == ["transaction"]
    table = sql.Identifier(table_name)
    with psycopg.connect(conninfo, connect_timeout=10) as conn:
        check("user", conn.execute("select current_user, current_database()").fetchone(),
              ("app", "app"))

        row = conn.execute("select %s::int + %s::int, %s::text || '!'", (40, 2, "hi")).fetchone()
        check("params", row, (42, "hi!"))

        # prepare=True: a named server-side statement, prepared on first use
        # and executed by name afterwards.
        doubled = [conn.execute("select %s::int * 2", (i,), prepare=True).fetchone()[0]
                   for i in range(4)]
        check("prepared", doubled, [0, 2, 4, 6])
        # Transaction pooling prepares it under pggat's own name on the server.
        name_pattern = "pggat_%" if transaction_mode else "%"
        named = conn.execute(
            "select count(*) from pg_prepared_statements"
            " where statement = 'select $1::int * 2' and name like %s", (name_pattern,)
        ).fetchone()[0]
        check("prepared statements on the server", named, 1)

        with conn.cursor(binary=True) as cur:
            cur.execute("select %s::bigint, %s::text", (2**40, "binary"))
            check("binary", cur.fetchone(), (2**40, "binary"))
        conn.commit()

        conn.autocommit = True
        conn.execute(sql.SQL("drop table if exists {}").format(table))
        conn.execute(sql.SQL("create table {} (id int primary key, note text)").format(table))

        with conn.transaction():
            conn.execute(sql.SQL("insert into {} values (%s, %s)").format(table), (1, "one"))
            with conn.cursor() as cur:
                cur.executemany(sql.SQL("insert into {} values (%s, %s)").format(table),
                                [(2, "two"), (3, "three")])
        with conn.transaction():
            conn.execute(sql.SQL("insert into {} values (%s, %s)").format(table), (4, "four"))
            check("in transaction", conn.info.transaction_status.name, "INTRANS")
            raise psycopg.Rollback()
        check("after rollback", conn.info.transaction_status.name, "IDLE")

        rows = conn.execute(sql.SQL("select id, note from {} order by id").format(table)).fetchall()
        check("rows", rows, [(1, "one"), (2, "two"), (3, "three")])

    # A second connection (a new session through pggat) sees the committed rows.
    with psycopg.connect(conninfo, connect_timeout=10, autocommit=True) as conn:
        count = conn.execute(sql.SQL("select count(*) from {}").format(table)).fetchone()[0]
        check("second connection", count, 3)
    print("psycopg OK")


if __name__ == "__main__":
    main()
