//! `reach export schema --dialect D`: CREATE TABLE statements for the
//! exported `contacts` and `events` tables in each engine's own types,
//! with the statements that load the CSV and Parquet exports into them.

use super::columns::{ColType, Column, contact_columns, event_columns};
use crate::model::Schema;
use crate::segment::sql::Dialect;
use std::fmt::Write as _;

/// The engine's type for a column.
fn sql_type(d: Dialect, c: &Column) -> String {
    use ColType::*;
    let t = match (d, c.ty) {
        // SQLite keeps what it is given: numbers and instants stay text,
        // exact and in time order, as `segment sql --dialect sqlite` reads them
        (Dialect::Sqlite, Id | Int) => "INTEGER",
        (Dialect::Sqlite, _) => "TEXT",
        (Dialect::Duckdb | Dialect::Postgres, Id | Int) => "BIGINT",
        (Dialect::Duckdb, Decimal) => "DECIMAL(38, 6)",
        (Dialect::Postgres, Decimal) => "NUMERIC(38, 6)",
        (Dialect::Duckdb, Text) => "VARCHAR",
        (Dialect::Postgres, Text) => "TEXT",
        (Dialect::Duckdb | Dialect::Postgres, Bool) => "BOOLEAN",
        (Dialect::Duckdb | Dialect::Postgres, Date) => "DATE",
        (Dialect::Duckdb | Dialect::Postgres, Time) => "TIMESTAMPTZ",
        (Dialect::Clickhouse, Id | Int) => "Int64",
        (Dialect::Clickhouse, Decimal) => "Decimal(38, 6)",
        (Dialect::Clickhouse, Text) => "String",
        (Dialect::Clickhouse, Bool) => "Bool",
        (Dialect::Clickhouse, Date) => "Date32",
        (Dialect::Clickhouse, Time) => "DateTime64(0, 'UTC')",
    };
    match d {
        Dialect::Clickhouse if c.nullable => format!("Nullable({t})"),
        Dialect::Clickhouse => t.to_string(),
        _ if c.nullable => t.to_string(),
        _ => format!("{t} NOT NULL"),
    }
}

fn create(d: Dialect, table: &str, cols: &[Column], key: &[&str], out: &mut String) {
    let _ = writeln!(out, "CREATE TABLE {} (", d.ident(table));
    let lines: Vec<String> = cols.iter().map(|c| format!("  {} {}", d.ident(&c.name), sql_type(d, c))).collect();
    out.push_str(&lines.join(",\n"));
    out.push_str("\n)");
    if d == Dialect::Clickhouse {
        let key: Vec<String> = key.iter().map(|k| d.ident(k)).collect();
        let _ = write!(out, " ENGINE = MergeTree ORDER BY ({})", key.join(", "));
    }
    out.push_str(";\n");
}

/// How each engine loads a file of the export into the table (comment
/// lines). The CSV loads state the dialect `reach export` writes (`,`
/// between fields, `"` around text, `""` for a `"` in it, a header line)
/// rather than let the engine guess it from the data; ClickHouse is given
/// the table's structure, so that nothing is inferred (and a file with no
/// rows, which leaves nothing to infer from, loads too).
fn load_lines(d: Dialect, table: &str, cols: &[Column]) -> Vec<String> {
    let t = d.ident(table);
    match d {
        Dialect::Sqlite => vec![format!(".import --csv --skip 1 {table}.csv {table}")],
        Dialect::Duckdb => vec![
            format!(
                "COPY {t} FROM '{table}.csv' (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"', AUTO_DETECT false);"
            ),
            format!("INSERT INTO {t} SELECT * FROM read_parquet('{table}.parquet');"),
        ],
        Dialect::Postgres => vec![format!(
            "\\copy {t} FROM '{table}.csv' WITH (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"')"
        )],
        Dialect::Clickhouse => {
            let structure: Vec<String> =
                cols.iter().map(|c| format!("{} {}", d.ident(&c.name), sql_type(d, c))).collect();
            vec![
                format!(
                    "INSERT INTO {t} SELECT * FROM file('{table}.csv', CSVWithNames, {}) SETTINGS date_time_input_format = 'best_effort', format_csv_delimiter = ',', format_csv_allow_single_quotes = 0, format_csv_allow_double_quotes = 1;",
                    d.str(&structure.join(", "))
                ),
                format!("INSERT INTO {t} SELECT * FROM file('{table}.parquet', Parquet);"),
            ]
        }
    }
}

/// The DDL text for the store's schema.
pub fn schema_sql(schema: &Schema, d: Dialect) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "-- reach export schema --dialect {}", d.name());
    let _ = writeln!(
        out,
        "-- the tables of `reach export contacts` and `reach export events` (CSV or Parquet), which `reach segment sql --dialect {}` queries",
        d.name()
    );
    let tables = [
        ("contacts", contact_columns(schema), vec!["id"]),
        ("events", event_columns(schema), vec!["contact_id", "ts"]),
    ];
    for (name, cols, key) in &tables {
        out.push('\n');
        let _ = writeln!(out, "-- load {name}:");
        for l in load_lines(d, name, cols) {
            let _ = writeln!(out, "--   {l}");
        }
        create(d, name, cols, key, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_declares_both_tables_with_typed_columns() {
        let schema = Schema::default();
        for d in Dialect::ALL {
            let s = schema_sql(&schema, d);
            assert!(s.contains("CREATE TABLE \"contacts\" (\n  \"id\" "), "{s}");
            assert!(s.contains("CREATE TABLE \"events\" (\n  \"contact_id\" "), "{s}");
            let amount = s.lines().find(|l| l.trim_start().starts_with("\"amount\"")).unwrap();
            let want = match d {
                Dialect::Sqlite => "TEXT",
                Dialect::Duckdb => "DECIMAL(38, 6)",
                Dialect::Postgres => "NUMERIC(38, 6)",
                Dialect::Clickhouse => "Nullable(Decimal(38, 6))",
            };
            assert!(amount.contains(want), "{d:?}: {amount}");
        }
        let ch = schema_sql(&schema, Dialect::Clickhouse);
        assert!(ch.contains("\"ts\" DateTime64(0, 'UTC'),"), "{ch}");
        assert!(ch.contains("ENGINE = MergeTree ORDER BY (\"contact_id\", \"ts\");"), "{ch}");
        let duck = schema_sql(&schema, Dialect::Duckdb);
        assert!(duck.contains("\"created_at\" TIMESTAMPTZ NOT NULL,"), "{duck}");
        assert!(duck.contains("read_parquet('events.parquet')"), "{duck}");
    }
}
