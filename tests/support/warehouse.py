#!/usr/bin/env python3
"""Runs `reach segment sql` queries in a real engine over `reach export` files.

    warehouse.py ENGINE LOAD DIR QUERIES.json

ENGINE is duckdb (the duckdb wheel) or clickhouse (ClickHouse's own engine,
the chdb wheel). DIR holds contacts.csv, events.csv and, for the parquet
loads, contacts.parquet and events.parquet; for the ddl loads,
schema-ENGINE.sql is what `reach export schema --dialect ENGINE` printed.
LOAD is how the tables are made, as a user would:

    csv           the engine's own type inference (read_csv_auto, file(…, CSVWithNames))
    parquet       the Parquet files as the engine reads them
    csv-ddl       the tables created by the printed DDL, filled by the load
    parquet-ddl   statements printed in its comments (file names made absolute)

QUERIES.json is a JSON list of SQL texts. One JSON object goes to stdout:
{"columns": {table: [[column, type the engine gave it], …]}, "results": […]}
with per query either {"ids": [contact ids]} or {"error": "message"}.

A missing wheel: one line on stderr naming `pip install duckdb chdb`, exit 3.
"""

import json
import re
import sys
import tempfile

INSTALL = "python3 -m pip install duckdb chdb"


def die(msg, code=2):
    print(msg, file=sys.stderr)
    sys.exit(code)


def ddl_parts(ddl, table, ext, dirname):
    """(CREATE statement, load statement) of `table` from the printed DDL."""
    create = re.search(r'CREATE TABLE "%s" \(.*?\)[^;]*;' % table, ddl, re.S)
    if not create:
        die("warehouse.py: no CREATE TABLE %s in the DDL" % table)
    load = None
    for line in ddl.splitlines():
        m = re.match(r"--\s+(.*'%s\.%s'.*)$" % (table, ext), line)
        if m:
            load = m.group(1).replace("'%s.%s'" % (table, ext), "'%s/%s.%s'" % (dirname, table, ext))
    if not load:
        die("warehouse.py: no load statement for %s.%s in the DDL" % (table, ext))
    return create.group(0), load


class Duck:
    def __init__(self):
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET threads = 2")

    def run(self, sql):
        return self.con.execute(sql).fetchall()

    def load(self, how, dirname, ddl):
        for t in ("contacts", "events"):
            if how == "csv":
                self.run("CREATE TABLE %s AS SELECT * FROM read_csv_auto('%s/%s.csv')" % (t, dirname, t))
            elif how == "parquet":
                self.run("CREATE TABLE %s AS SELECT * FROM read_parquet('%s/%s.parquet')" % (t, dirname, t))
            else:
                create, load = ddl_parts(ddl, t, how.split("-")[0], dirname)
                self.run(create)
                self.run(load)

    def ids(self, sql):
        return [int(r[0]) for r in self.run(sql)]

    def describe(self, table):
        return [(r[0], r[1]) for r in self.run("DESCRIBE %s" % table)]


class Chdb:
    def __init__(self):
        from chdb import session

        self.tmp = tempfile.TemporaryDirectory()
        self.s = session.Session(self.tmp.name)

    def run(self, sql, fmt="CSV"):
        return self.s.query(sql, fmt)

    def load(self, how, dirname, ddl):
        for t in ("contacts", "events"):
            if how == "csv":
                self.run(
                    "CREATE TABLE %s ENGINE = Memory AS SELECT * FROM file('%s/%s.csv', CSVWithNames)" % (t, dirname, t)
                )
            elif how == "parquet":
                self.run(
                    "CREATE TABLE %s ENGINE = Memory AS SELECT * FROM file('%s/%s.parquet', Parquet)" % (t, dirname, t)
                )
            else:
                create, load = ddl_parts(ddl, t, how.split("-")[0], dirname)
                self.run(create)
                self.run(load)

    def ids(self, sql):
        out = str(self.run(sql)).strip()
        return [int(x.strip('"')) for x in out.splitlines() if x.strip()]

    def describe(self, table):
        out = str(self.run("DESCRIBE %s" % table, "TSV")).strip()
        return [tuple(l.split("\t")[:2]) for l in out.splitlines()]


def main():
    if len(sys.argv) != 5:
        die(__doc__)
    engine, how, dirname, queries = sys.argv[1:]
    if how not in ("csv", "parquet", "csv-ddl", "parquet-ddl"):
        die("warehouse.py: unknown load %r" % how)
    try:
        db = {"duckdb": Duck, "clickhouse": Chdb}[engine]()
    except KeyError:
        die("warehouse.py: unknown engine %r" % engine)
    except ImportError as e:
        die("warehouse.py: %s (install the wheels: %s)" % (e, INSTALL), 3)
    ddl = None
    if how.endswith("-ddl"):
        with open("%s/schema-%s.sql" % (dirname, engine)) as f:
            ddl = f.read()
    try:
        db.load(how, dirname, ddl)
    except Exception as e:  # the load itself failing is the test's failure
        die("warehouse.py: %s could not load the %s export: %s" % (engine, how, e), 4)
    with open(queries) as f:
        sqls = json.load(f)
    out = []
    for sql in sqls:
        try:
            out.append({"ids": db.ids(sql)})
        except Exception as e:
            out.append({"error": str(e).strip().splitlines()[0] if str(e).strip() else repr(e)})
    json.dump({"columns": {t: db.describe(t) for t in ("contacts", "events")}, "results": out}, sys.stdout)


if __name__ == "__main__":
    main()
