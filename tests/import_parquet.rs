//! Parquet files imported through the real binary: reach's own exports
//! and files DuckDB writes (the `duckdb` wheel; scripts/test.sh installs
//! it) with its own types, nested columns, bad rows and damaged files.

mod common;

use common::Env;
use std::path::Path;
use std::process::Command;

/// A demo database of `n` contacts in `env`, its tables exported as CSV
/// and as Parquet (`contacts.csv`, `events.parquet`, …).
fn demo_exports(env: &Env, n: &str) {
    env.run(&["demo", "--contacts", n, "--seed", "7"]).ok();
    for table in ["contacts", "events"] {
        env.run(&["export", table, "-o", &format!("{table}.csv")]).ok();
        env.run(&["export", table, "--format", "parquet", "-o", &format!("{table}.parquet")]).ok();
    }
}

/// Both tables of a database imported from `contacts` and `events` (in
/// the test directory), as `reach export` writes them back.
fn imported(env: &Env, db: &str, contacts: &str, events: &str) -> (String, String) {
    let db = env.path(db);
    env.run_db(&db, &["import", "contacts", contacts]).ok();
    env.run_db(&db, &["import", "events", events]).ok();
    let export = |t: &str| env.run_db(&db, &["export", t]).ok();
    (export("contacts"), export("events"))
}

/// Runs Python with the duckdb wheel in `dir`.
fn duckdb(dir: &Path, script: &str) {
    let out = Command::new("python3")
        .current_dir(dir)
        .args(["-c", &format!("import duckdb\nc = duckdb.connect()\n{script}")])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python3 with the duckdb wheel (python3 -m pip install duckdb): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn parquet_exports_import_as_their_csv() {
    let env = Env::new();
    demo_exports(&env, "300");
    let from_csv = imported(&env, "csv.redb", "contacts.csv", "events.csv");
    let from_parquet = imported(&env, "parquet.redb", "contacts.parquet", "events.parquet");
    assert!(from_csv.1.lines().count() > 1000, "{}", from_csv.1.len());
    assert_eq!(from_csv.0, from_parquet.0, "contacts");
    assert_eq!(from_csv.1, from_parquet.1, "events");

    // a page damaged in the middle of the file: refused, nothing imported
    let mut damaged = std::fs::read(env.path("events.parquet")).unwrap();
    let mid = damaged.len() / 2;
    damaged[mid..mid + 64].fill(0xAA);
    env.write("damaged.parquet", &damaged);
    let db = env.path("parquet.redb");
    let err = env.run_db(&db, &["import", "events", "damaged.parquet"]).fails(2);
    assert!(err.contains("damaged.parquet: not a whole Parquet file"), "{err}");
    assert_eq!(env.run_db(&db, &["export", "events"]).ok(), from_parquet.1);
}

/// A Parquet file given as a stream (stdin, gzipped, inside a zip
/// archive, or both) is read whole into memory, then as from its path.
#[test]
fn parquet_streams_import_as_their_file() {
    use std::io::Write;
    let env = Env::new();
    demo_exports(&env, "100");
    let from_file = imported(&env, "file.redb", "contacts.parquet", "events.parquet");
    let whole = |t: &str| std::fs::read(env.path(&format!("{t}.parquet"))).unwrap();
    let gzip = |bytes: &[u8]| {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(bytes).unwrap();
        z.finish().unwrap()
    };
    let zip = |name: &str, bytes: &[u8]| {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        z.write_all(bytes).unwrap();
        z.finish().unwrap().into_inner()
    };
    let db = env.path("stream.redb");
    env.run_db_stdin(&db, &["import", "contacts", "-"], &whole("contacts")).ok();
    env.run_db_stdin(&db, &["import", "events", "-"], &gzip(&whole("events"))).ok();
    let export = |db: &Path, t: &str| env.run_db(db, &["export", t]).ok();
    assert_eq!((export(&db, "contacts"), export(&db, "events")), from_file);

    let db = env.path("archived.redb");
    env.write("contacts.parquet.gz", gzip(&whole("contacts")));
    env.write("events.zip", zip("events.parquet", &whole("events")));
    env.run_db(&db, &["import", "contacts", "contacts.parquet.gz"]).ok();
    env.run_db_stdin(&db, &["import", "events", "-"], &zip("e.parquet", &gzip(&whole("events")))).ok();
    assert_eq!((export(&db, "contacts"), export(&db, "events")), from_file);

    // a damaged one is refused by the name it came as
    let mut cut = whole("events");
    cut.truncate(cut.len() - 20);
    let err = env.run_db_stdin(&db, &["import", "events", "-"], &zip("e.parquet", &cut)).fails(2);
    assert!(err.starts_with("error: stdin/e.parquet: not a readable Parquet file"), "{err}");
    let err = env.run_db_stdin(&db, &["import", "events", "-"], &gzip(&cut)).fails(2);
    assert!(err.starts_with("error: stdin: not a readable Parquet file"), "{err}");
    assert_eq!(export(&db, "events"), from_file.1, "nothing half-written");
}

/// A pandas DataFrame's unnamed index, which `to_parquet` writes as a
/// column `__index_level_0__` named in the footer's `pandas` metadata, is
/// row numbers, not an attribute; a column of that name the metadata
/// does not name is data.
#[test]
fn pandas_index_columns_are_passed_over() {
    let env = Env::new();
    duckdb(
        env.dir.path(),
        "rows = \"SELECT * FROM (VALUES (3,'a@x.com','Rome'),(7,'b@x.com','Milan')) t(__index_level_0__,email,city)\"\n\
         c.execute(f\"COPY ({rows}) TO 'pandas.parquet' (FORMAT parquet, KV_METADATA {{pandas: '{{\\\"index_columns\\\": [\\\"__index_level_0__\\\"]}}'}})\")\n\
         c.execute(f\"COPY ({rows}) TO 'plain.parquet' (FORMAT parquet)\")",
    );
    env.run(&["import", "contacts", "pandas.parquet"]).ok();
    let schema = env.run(&["schema", "show"]).ok();
    assert!(!schema.contains("index_level"), "{schema}");
    // (the columns after the index read as themselves)
    let out = env.run(&["contacts", "show", "b@x.com", "--format", "json"]).ok();
    let b: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((b["email"].as_str(), b["city"].as_str()), (Some("b@x.com"), Some("Milan")), "{out}");
    let out = env.run(&["import", "contacts", "plain.parquet"]).ok();
    assert!(out.contains("declared attribute index_level_0"), "{out}");
}

#[test]
fn parquet_as_duckdb_types_it_imports_as_its_csv() {
    let env = Env::new();
    demo_exports(&env, "300");
    // what a user does with an export: loaded with DuckDB's inference
    // (BIGINT ids, DOUBLE amounts, TIMESTAMPTZ, DATE, BOOLEAN), saved as Parquet
    duckdb(
        env.dir.path(),
        "for t in ['contacts', 'events']:\n    c.execute(f\"COPY (SELECT * FROM read_csv_auto('{t}.csv')) TO 'duck_{t}.parquet' (FORMAT parquet)\")\n\
         assert c.execute(\"SELECT typeof(amount) FROM 'duck_events.parquet' LIMIT 1\").fetchone()[0] == 'DOUBLE'",
    );
    let from_csv = imported(&env, "csv.redb", "contacts.csv", "events.csv");
    let from_duck = imported(&env, "duck.redb", "duck_contacts.parquet", "duck_events.parquet");
    assert_eq!(from_csv.0, from_duck.0, "contacts");
    assert_eq!(from_csv.1, from_duck.1, "events");

    // every codec Parquet writers offer but LZO (DuckDB's default is Snappy,
    // Polars' zstd, ClickHouse's lz4)
    for codec in ["zstd", "gzip", "lz4", "brotli", "uncompressed"] {
        duckdb(
            env.dir.path(),
            &format!(
                "c.execute(\"COPY (SELECT * FROM 'duck_events.parquet') TO '{codec}.parquet' (FORMAT parquet, COMPRESSION {codec})\")"
            ),
        );
        let again = imported(&env, &format!("{codec}.redb"), "contacts.csv", &format!("{codec}.parquet"));
        assert_eq!(again.1, from_csv.1, "{codec}");
    }
    // a page declaring more than its bytes make, in the codecs the crate
    // sizes or decodes to the end: refused, naming the codec
    for (codec, says) in [("zstd", "its zstd stream holds fewer"), ("gzip", "its gzip stream holds fewer")] {
        let whole = std::fs::read(env.path(&format!("{codec}.parquet"))).unwrap();
        env.write("inflated.parquet", inflated_first_page(&whole));
        let err = env.run(&["import", "events", "inflated.parquet"]).fails(2);
        assert!(err.contains("inflated.parquet: not a whole Parquet file (column `") && err.contains(says), "{err}");
    }
    // format version 2: pages v2, texts DELTA_LENGTH_BYTE_ARRAY, numbers
    // DELTA_BINARY_PACKED (what the page checks decode to look into)
    duckdb(
        env.dir.path(),
        "for t in ['contacts', 'events']:\n    c.execute(f\"COPY (SELECT * FROM 'duck_{t}.parquet') TO 'v2_{t}.parquet' (FORMAT parquet, PARQUET_VERSION V2, COMPRESSION zstd)\")\n\
         e = [r[0] for r in c.execute(\"SELECT DISTINCT unnest(string_split(encodings, ', ')) FROM parquet_metadata('v2_contacts.parquet')\").fetchall()]\n\
         assert 'DELTA_LENGTH_BYTE_ARRAY' in e, e",
    );
    let v2 = imported(&env, "v2.redb", "v2_contacts.parquet", "v2_events.parquet");
    assert_eq!(v2, from_csv, "format version 2");
}

/// A table DuckDB writes partitioned (`PARTITION_BY (kind)`: the kind
/// in each directory's name, `kind=purchase/data_0.parquet`, not in the
/// files) imports as the whole file does; so does one partitioned by
/// kind and month, each event gaining its `month` as a parameter.
#[test]
fn tables_duckdb_writes_partitioned_import_as_the_whole() {
    let env = Env::new();
    demo_exports(&env, "300");
    duckdb(
        env.dir.path(),
        "c.execute(\"COPY (SELECT * FROM read_csv_auto('events.csv')) TO 'by_kind' (FORMAT parquet, PARTITION_BY (kind))\")\n\
         c.execute(\"COPY (SELECT *, strftime(ts, '%Y-%m') AS month FROM read_csv_auto('events.csv')) TO 'by_month' (FORMAT csv, PARTITION_BY (kind, month))\")",
    );
    assert!(env.path("by_kind/kind=purchase").is_dir());
    let whole = imported(&env, "whole.redb", "contacts.csv", "events.csv");
    let by_kind = imported(&env, "by_kind.redb", "contacts.csv", "by_kind");
    assert_eq!(by_kind, whole);
    let (_, by_month) = imported(&env, "by_month.redb", "contacts.csv", "by_month");
    let (whole_rows, month_rows) = (common::csv_records(&whole.1), common::csv_records(&by_month));
    assert_eq!(month_rows.len(), whole_rows.len());
    let mut months: Vec<(String, String, String)> =
        month_rows.iter().map(|r| (r["ts"].clone(), r["kind"].clone(), r["month"].clone())).collect();
    months.sort();
    let mut want: Vec<(String, String, String)> =
        whole_rows.iter().map(|r| (r["ts"].clone(), r["kind"].clone(), r["ts"][..7].to_string())).collect();
    want.sort();
    assert_eq!(months, want);
}

#[test]
fn nested_and_typed_columns_read_as_text() {
    let env = Env::new();
    duckdb(
        env.dir.path(),
        "c.execute(\"\"\"COPY (SELECT * FROM (VALUES
 ('c1', TIMESTAMP_NS '2024-11-10 13:15:42.987654321', 'purchase', 12.50::DECIMAL(18,3), 'a, \"b\"' || chr(10) || 'c',
  [1,2,3], ['x','y'], {'city':'Kraków','zip':'30-001'}, MAP {'k1': 1, 'k2': 2}, '0f8fad5b-d9cb-469f-a165-70867728950e'::UUID,
  TIME '13:15:42', 18446744073709551615::UBIGINT, DATE '1990-02-03', [{'sku':'A','price':1.5},{'sku':'B','price':2.25}], 0.1::DOUBLE, '\\\\N'),
 ('c2', TIMESTAMP_NS '1969-12-31 23:59:59.5', 'purchase', -1.234::DECIMAL(18,3), 'plain',
  [], NULL, NULL, NULL, NULL, NULL, 0::UBIGINT, NULL, NULL, NULL, NULL)
) t(contact, ts, kind, amount, note, nums, words, address, m, u, t, big, d, items, f, bs)) TO 'nested.parquet' (FORMAT parquet)\"\"\")",
    );
    // (a CSV file's options, which do not apply)
    env.run(&["import", "events", "nested.parquet", "--decimal-mark", ",", "--null", "\\N", "--delimiter", ";"]).ok();
    let rows = env.run(&["export", "events", "--format", "jsonl"]).ok();
    let rows: Vec<serde_json::Value> = rows.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let by = |c: &str| {
        let id = env.run(&["export", "contacts", "--contact", c]).ok();
        let id = id.lines().nth(1).unwrap().split(',').next().unwrap().to_string();
        rows.iter().find(|r| r["contact_id"].as_u64().map(|v| v.to_string()) == Some(id.clone())).unwrap().clone()
    };
    let first = by("c1");
    let text = |k: &str| first[k].as_str().unwrap_or_else(|| panic!("{k}: {first}")).to_string();
    assert_eq!(first["ts"], "2024-11-10T13:15:42Z");
    assert_eq!(first["amount"], 12.5);
    // (`bs`: text as stored, a CSV file's NULL spelling is not one here)
    let want = [
        ("note", "a, \"b\"\nc"),
        ("nums", "[1,2,3]"),
        ("words", r#"["x","y"]"#),
        ("address_city", "Kraków"),
        ("address_zip", "30-001"),
        ("m_key", r#"["k1","k2"]"#),
        ("m_value", "[1,2]"),
        ("u", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("t", "13:15:42"),
        ("big", "18446744073709551615"),
        ("d", "1990-02-03"),
        ("items_sku", r#"["A","B"]"#),
        ("items_price", "[1.50,2.25]"),
        ("f", "0.1"),
        ("bs", "\\N"),
    ];
    for (column, value) in want {
        assert_eq!(text(column), value, "{column}");
    }
    let second = by("c2");
    assert_eq!(second["ts"], "1969-12-31T23:59:59Z", "{second}");
    assert_eq!(second["amount"], -1.234); // (not -1234, as `--decimal-mark ,` reads a CSV file's)
    for absent in ["nums", "words", "address_city", "m_key", "u", "t", "d", "items_sku", "f"] {
        assert!(second.get(absent).is_none(), "{absent}: {second}");
    }
}

#[test]
fn bad_rows_are_numbered_from_one_and_damaged_files_refused() {
    let env = Env::new();
    duckdb(
        env.dir.path(),
        "c.execute(\"COPY (SELECT * FROM (VALUES ('c1','2024-11-10 13:15:42','visit'),('c2','not a time','visit'),('c3','2024-11-10','visit')) t(contact,ts,kind)) TO 'bad.parquet' (FORMAT parquet)\")\n\
         c.execute(\"COPY (SELECT 'c1' contact, TIMESTAMP '2024-01-01' ts, 'visit' kind, [[1,2],[3]] grid) TO 'lists.parquet' (FORMAT parquet)\")\n\
         c.execute(\"COPY (SELECT * FROM (VALUES ('a@x.com'),(NULL),('b@x.com')) t(email)) TO 'emails.parquet' (FORMAT parquet)\")",
    );
    let err = env.run(&["import", "events", "bad.parquet"]).fails(2);
    assert!(err.contains("bad.parquet:2: `not a time` is not a timestamp"), "{err}");
    env.run(&["import", "events", "bad.parquet", "--skip-invalid", "--rejects", "rejects.csv"]).ok();
    assert_eq!(
        env.read("rejects.csv"),
        "contact,ts,kind,line,reason\nc2,not a time,visit,2,`not a time` is not a timestamp (expected RFC 3339 such as 2026-01-31T09:30:00Z)\n"
    );
    let before = env.export("events");
    assert_eq!(before.lines().count(), 3, "{before}");

    // a one-column file's NULL is a row, refused at its number
    let err = env.run(&["import", "contacts", "emails.parquet"]).fails(2);
    assert!(err.contains("emails.parquet:2: the row has neither external_id nor email"), "{err}");

    let err = env.run(&["import", "events", "lists.parquet"]).fails(2);
    assert!(err.contains("lists.parquet: column `grid`: lists inside lists are not read"), "{err}");

    // reach's own export, cut and damaged
    env.run(&["export", "events", "--format", "parquet", "-o", "events.parquet"]).ok();
    let whole = std::fs::read(env.path("events.parquet")).unwrap();
    env.write("cut.parquet", &whole[..whole.len() - 20]);
    let err = env.run(&["import", "events", "cut.parquet"]).fails(2);
    assert!(err.contains("cut.parquet: not a readable Parquet file"), "{err}");
    // a file on which the `parquet` crate panics (found by fuzzing):
    // refused as damaged, with no panic message (the page checks now
    // find its damage before the crate's assertion would)
    let fuzzed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions/import_parquet/negative_column_start.parquet");
    let err = env.run(&["import", "events", fuzzed.to_str().unwrap()]).fails(2);
    assert!(err.contains("negative_column_start.parquet: not a whole Parquet file (column `"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // a page header declaring more than its bytes make: refused before
    // the size declared is taken (found by fuzzing: 1.4 GB for a 7 KB
    // file)
    env.write("inflated.parquet", inflated_first_page(&whole));
    let err = env.run(&["import", "events", "inflated.parquet"]).fails(2);
    assert!(
        err.contains("inflated.parquet: not a whole Parquet file (column `contact_id`: the page at byte 4 declares "),
        "{err}"
    );
    assert!(err.contains("bytes where its Snappy stream says "), "{err}");
    assert_eq!(env.export("events"), before, "nothing half-written");
}

/// Files made to show where the `parquet` crate could read a page header
/// otherwise than reach's check, or allocate what a page declares (each
/// took it to 2 GB or more, or aborted it): refused as damaged, naming
/// the page, nothing written.
#[test]
fn pages_declaring_more_than_they_hold_are_refused() {
    let env = Env::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/import_parquet");
    let cases = [
        ("header_field_twice", "column `email`: the page header at byte 4 holds a field twice"),
        ("header_size_as_i16", "the page header at byte 4 holds a field of another type than its own"),
        ("header_bool_list", "the page header at byte 4 holds a list of booleans"),
        ("brotli_gigabyte", "the page at byte 4 declares 100 bytes where its Brotli stream holds more"),
        (
            "dictionary_2e9_values",
            "the dictionary page at byte 4 declares 2000000000 values, more than its 11 bytes hold",
        ),
        ("delta_2e33_lengths", "the page at byte 4 declares 8589934592 lengths in a page of 1 values"),
        // (found by fuzzing: the crate spent 0.45 s on the footer's list
        // of 4e9 booleans, minutes for a file holding many)
        ("footer_bool_list_slow", "not a readable Parquet file (its footer holds a list of booleans)"),
    ];
    for (file, reason) in cases {
        let path = dir.join(format!("{file}.parquet"));
        let err = env.run(&["import", "contacts", path.to_str().unwrap()]).fails(2);
        assert!(err.contains(&format!("{file}.parquet: not a ")), "{err}");
        assert!(err.contains(reason), "{file}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert!(!env.db.exists(), "nothing written");
}

/// `file` (reach's Snappy export) with its first page's uncompressed size
/// made the largest its header's bytes can say.
fn inflated_first_page(file: &[u8]) -> Vec<u8> {
    let mut out = file.to_vec();
    // PAR1, then the header's field 1 (the page type) and field 2 (the
    // size), each a compact i32 field: 0x15 and a varint
    assert_eq!(&out[..5], b"PAR1\x15");
    let mut at = 5;
    while out[at] & 0x80 != 0 {
        at += 1;
    }
    assert_eq!(out[at + 1], 0x15);
    let start = at + 2;
    let mut end = start;
    while out[end] & 0x80 != 0 {
        end += 1;
    }
    // all ones but the zigzag sign bit: the largest positive number
    for b in &mut out[start..end] {
        *b = 0xff;
    }
    out[end] = 0x7f;
    out[start] &= 0xfe;
    out
}
