//! Bad input to `reach import`: each case exits 2 with `file:line: reason`
//! and leaves the database exactly as it was (nothing half-written).

mod common;

use common::{Env, Run};
use std::io::Write;

const BASE_CONTACTS: &str = "external_id,email,first_name\nc1,c1@example.com,Ann\nc2,c2@example.com,Bob\n";
const BASE_EVENTS: &str = "contact,ts,kind,amount\nc1,2026-01-01T10:00:00Z,purchase,10.50\n";

/// A database holding two contacts and one event.
fn seeded() -> Env {
    let env = Env::new();
    env.import("contacts", "base.csv", BASE_CONTACTS, &[]).ok();
    env.import("events", "base_events.csv", BASE_EVENTS, &[]).ok();
    env
}

/// Everything a reader can see: both exports and the schema.
fn snapshot(env: &Env) -> (String, String, String) {
    (env.export("contacts"), env.export("events"), env.run(&["schema", "show", "--format", "json"]).ok())
}

/// Runs `import what name` with `contents` on a seeded database, asserts exit
/// 2 with exactly `expected` as the error line, and that nothing changed.
#[track_caller]
fn refused(what: &str, name: &str, contents: &[u8], extra: &[&str], expected: &str) {
    let env = seeded();
    let before = snapshot(&env);
    env.write(name, contents);
    let mut args = vec!["import", what, name];
    args.extend_from_slice(extra);
    let err = env.run(&args).fails(2);
    assert_eq!(err.lines().next(), Some(format!("error: {expected}").as_str()), "stderr: {err}");
    assert_eq!(snapshot(&env), before, "the database changed after a refused import");
}

#[test]
fn wrong_column_count_names_file_and_line() {
    refused(
        "contacts",
        "bad.csv",
        b"external_id,email,first_name,last_name\nx1,x1@example.com,A,B\nx2,x2@example.com,C,D,E\n",
        &[],
        "bad.csv:3: expected 4 columns as in the header, found 5",
    );
    refused(
        "events",
        "bad.csv",
        b"contact,ts,kind,amount\nx1,2026-01-01T00:00:00Z,purchase\n",
        &[],
        "bad.csv:2: expected 4 columns as in the header, found 3",
    );
}

#[test]
fn bad_utf8_is_refused() {
    refused(
        "contacts",
        "latin1.csv",
        b"external_id,first_name\nx1,Ann\nx2,Jos\xe9\n",
        &[],
        "latin1.csv:3: invalid UTF-8 in column `first_name` (a file in another encoding reads with `--encoding NAME`, \
         e.g. windows-1252 from Excel on Windows)",
    );
    refused(
        "events",
        "latin1.jsonl",
        b"{\"contact\":\"x1\",\"ts\":\"2026-01-01T00:00:00Z\",\"kind\":\"purchase\",\"product\":\"Caf\xe9\"}\n",
        &[],
        "latin1.jsonl:1: invalid UTF-8",
    );
}

#[test]
fn unparsable_dates_are_refused() {
    refused(
        "events",
        "dates.csv",
        b"contact,ts,kind\nx1,2026-01-01T00:00:00Z,page_view\nx1,yesterday,page_view\n",
        &[],
        "dates.csv:3: `yesterday` is not a timestamp (expected RFC 3339 such as 2026-01-31T09:30:00Z)",
    );
    refused(
        "contacts",
        "dates.csv",
        b"external_id,created_at\nx1,2026-02-30\n",
        &[],
        "dates.csv:2: created_at: `2026-02-30` is not a timestamp (expected RFC 3339 such as 2026-01-31T09:30:00Z)",
    );
}

#[test]
fn unparsable_numbers_are_refused() {
    refused(
        "events",
        "num.csv",
        b"contact,ts,kind,amount\nx1,2026-01-01T00:00:00Z,purchase,12.5\nx1,2026-01-01T00:00:00Z,purchase,12,5\n",
        &[],
        "num.csv:3: expected 4 columns as in the header, found 5",
    );
    refused(
        "events",
        "num.csv",
        b"contact,ts,kind,amount\nx1,2026-01-01T00:00:00Z,purchase,12.5x\n",
        &[],
        "num.csv:2: purchase.amount: `12.5x` is not a number",
    );
    refused(
        "contacts",
        "num.csv",
        b"external_id,score\nx1,7\nx2,seven\n",
        &[],
        "num.csv:3: score `seven` is not a whole number",
    );
}

#[test]
fn wrong_type_for_a_typed_attribute_is_refused() {
    // a built-in number attribute
    refused(
        "contacts",
        "typed.csv",
        b"external_id,lat\nx1,45.1\nx2,north\n",
        &[],
        "typed.csv:3: attribute `lat`: `north` is not a number",
    );
    // a user-declared one
    let env = seeded();
    env.run(&["schema", "add-attribute", "shoe_size", "number"]).ok();
    let before = snapshot(&env);
    let err = env.import("contacts", "shoes.csv", "external_id,shoe_size\nx1,42\nx2,large\n", &[]).fails(2);
    assert_eq!(err.lines().next(), Some("error: shoes.csv:3: attribute `shoe_size`: `large` is not a number"));
    assert_eq!(snapshot(&env), before);
}

#[test]
fn unknown_enum_value_is_refused() {
    refused(
        "contacts",
        "enum.csv",
        b"external_id,gender\nx1,female\nx2,robot\n",
        &[],
        "enum.csv:3: attribute `gender`: unknown value `robot` (one of: female, male, other)",
    );
    refused(
        "events",
        "bounce.csv",
        b"contact,ts,kind,type\nc1,2026-01-01T00:00:00Z,email_bounce,medium\n",
        &[],
        "bounce.csv:2: email_bounce.type: unknown value `medium` (one of: hard, soft)",
    );
}

#[test]
fn unknown_source_class_is_refused() {
    refused(
        "events",
        "src.csv",
        b"contact,ts,kind,source\nc1,2026-01-01T00:00:00Z,page_view,carrier-pigeon\n",
        &[],
        "src.csv:2: unknown source `carrier-pigeon` (direct, referral, search, paid, email, social)",
    );
}

#[test]
fn duplicate_external_id_in_one_file_names_the_first_line() {
    refused(
        "contacts",
        "dup.csv",
        b"external_id,email\nx1,x1@example.com\nx2,x2@example.com\nx1,other@example.com\n",
        &[],
        "dup.csv:4: duplicate external_id `x1` (first on line 2)",
    );
    refused(
        "contacts",
        "dupmail.csv",
        b"external_id,email\nx1,same@example.com\nx2,SAME@example.com\n",
        &[],
        "dupmail.csv:3: duplicate email `SAME@example.com` (first on line 2)",
    );
}

/// The tables of a file's new keys are sized after its first 256 rows:
/// keys seen before and after that point are still refused when repeated.
#[test]
fn duplicate_keys_across_the_first_rows_and_the_rest() {
    let mut rows = String::from("external_id,email\n");
    for i in 0..600 {
        rows.push_str(&format!("x{i},p{i}@example.com\n"));
    }
    let mut late = rows.clone();
    late.push_str("x10,fresh@example.com\n");
    refused(
        "contacts",
        "late.csv",
        late.as_bytes(),
        &[],
        "late.csv:602: duplicate external_id `x10` (first on line 12)",
    );
    let mut mail = rows.clone();
    mail.push_str("y1,P500@Example.com\n");
    refused(
        "contacts",
        "mail.csv",
        mail.as_bytes(),
        &[],
        "mail.csv:602: duplicate email `P500@Example.com` (first on line 502)",
    );
}

#[test]
fn empty_file_and_header_only_file_are_refused() {
    refused("contacts", "empty.csv", b"", &[], "empty.csv: empty file (expected a header line)");
    refused("events", "empty.csv", b"", &[], "empty.csv: empty file (expected a header line)");
    refused("contacts", "head.csv", b"external_id,email\n", &[], "head.csv: header only, no rows to import");
    refused("events", "head.csv", b"contact,ts,kind\n", &[], "head.csv: header only, no rows to import");
    refused("events", "empty.jsonl", b"\n\n", &[], "empty.jsonl: empty file (no JSON lines)");
}

#[test]
fn empty_contact_key_on_an_event_is_refused() {
    refused(
        "events",
        "nokey.csv",
        b"contact,ts,kind\nc1,2026-01-01T00:00:00Z,page_view\n,2026-01-02T00:00:00Z,page_view\n",
        &[],
        "nokey.csv:3: empty contact key",
    );
    refused(
        "events",
        "nokey.jsonl",
        b"{\"contact\":\"  \",\"ts\":\"2026-01-02T00:00:00Z\",\"kind\":\"page_view\"}\n",
        &[],
        "nokey.jsonl:1: empty contact key",
    );
}

#[test]
fn unknown_internal_contact_id_on_an_event_is_refused() {
    refused(
        "events",
        "ids.csv",
        b"contact_id,ts,kind\n999,2026-01-02T00:00:00Z,page_view\n",
        &[],
        "ids.csv:2: contact_id 999 does not exist in this database",
    );
}

#[test]
fn a_long_line_is_refused_at_the_limit() {
    let mut body = String::from("external_id,first_name\nx1,Ann\n");
    body.push_str("x2,");
    body.push_str(&"a".repeat(5000));
    body.push('\n');
    refused(
        "contacts",
        "long.csv",
        body.as_bytes(),
        &["--max-line-bytes", "1000"],
        "long.csv:3: line longer than 1000 bytes (the limit; see --max-line-bytes)",
    );
    let mut body =
        String::from("{\"contact\":\"x1\",\"ts\":\"2026-01-01T00:00:00Z\",\"kind\":\"page_view\",\"url\":\"");
    body.push_str(&"u".repeat(5000));
    body.push_str("\"}\n");
    refused(
        "events",
        "long.jsonl",
        body.as_bytes(),
        &["--max-line-bytes", "1000"],
        "long.jsonl:1: line longer than 1000 bytes (the limit; see --max-line-bytes)",
    );
}

/// Peak resident set size (KiB) of a finished child, from wait4.
fn wait_with_peak_rss(child: std::process::Child) -> (i32, i64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet reaped (std only reaps in wait/try_wait).
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    std::mem::forget(child);
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    (code, usage.ru_maxrss)
}

/// A real 300 MB line under the default 16 MiB limit: refused with exit 2,
/// quickly, without reading the line into memory.
#[test]
fn a_300_mb_line_is_streamed_and_refused_with_low_memory() {
    let env = seeded();
    let before = snapshot(&env);
    let path = env.path("huge.csv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        f.write_all(b"external_id,first_name\nx1,Ann\nx2,").unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..300 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\n").unwrap();
        f.flush().unwrap();
    }
    let err_file = std::fs::File::create(env.path("huge.err")).unwrap();
    let started = std::time::Instant::now();
    let child = env
        .cmd(&["import", "contacts", "huge.csv"])
        .stderr(std::process::Stdio::from(err_file))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (code, peak_kib) = wait_with_peak_rss(child);
    let msg = env.read("huge.err");
    eprintln!("300 MB line: exit {code}, peak RSS {peak_kib} KiB, {:?}", started.elapsed());
    assert_eq!(code, 2, "stderr: {msg}");
    assert_eq!(
        msg.lines().next(),
        Some("error: huge.csv:3: line longer than 16777216 bytes (the limit; see --max-line-bytes)")
    );
    assert!(peak_kib < 150 * 1024, "peak RSS {peak_kib} KiB: the long line was buffered");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "took {:?}", started.elapsed());
    std::fs::remove_file(&path).unwrap();
    assert_eq!(snapshot(&env), before);
}

#[test]
fn a_refused_import_into_a_new_path_leaves_no_database_file() {
    let env = Env::new();
    let err = env.import("contacts", "bad.csv", "external_id,score\nx1,high\n", &[]).fails(2);
    assert_eq!(err.lines().next(), Some("error: bad.csv:2: score `high` is not a whole number"));
    assert!(!env.db.exists(), "a database file was created by a refused import");
}

#[test]
fn map_naming_a_missing_column_is_refused() {
    refused(
        "events",
        "m.csv",
        b"contact,ts,kind\nc1,2026-01-01T00:00:00Z,page_view\n",
        &["--map", "Nope=product"],
        "m.csv: --map names columns the file does not have: Nope",
    );
}

#[test]
fn missing_required_event_columns_are_refused() {
    refused(
        "events",
        "nots.csv",
        b"contact,kind\nc1,page_view\n",
        &[],
        "nots.csv:1: no `ts` column (the event time; map one with --map COLUMN=ts)",
    );
    refused(
        "events",
        "nokind.csv",
        b"contact,ts\nc1,2026-01-01T00:00:00Z\n",
        &[],
        "nokind.csv:1: no `kind` column and no --kind",
    );
}

#[test]
fn a_missing_input_file_is_an_input_error() {
    let env = Env::new();
    let err = env.run(&["import", "contacts", "nowhere.csv"]).fails(2);
    assert_eq!(err.lines().next(), Some("error: nowhere.csv: no such file"));
    assert!(!env.db.exists());
}

#[test]
fn rejects_without_skip_invalid_is_a_usage_error() {
    let env = seeded();
    let r: Run = env.import("contacts", "x.csv", "external_id\nz1\n", &["--rejects", "r.csv"]);
    let err = r.fails(2);
    assert_eq!(err.lines().next(), Some("error: --rejects needs --skip-invalid"));
}

/// Rows are parsed ahead in batches on a second thread: a bad row deep in a
/// large file is still named by its own line, for known and new contacts
/// alike, and a quoted field spanning lines keeps the numbering right.
#[test]
fn bad_row_far_into_a_large_file_is_located() {
    let mut f = String::from("contact,ts,kind,note\n");
    for i in 0..20_000 {
        let who = if i % 2 == 0 { "c1".to_string() } else { format!("new{i}") };
        if i == 100 {
            f.push_str(&format!("{who},2026-01-01T00:00:00Z,page_view,\"two\nlines\"\n"));
        } else if i == 15_000 {
            f.push_str(&format!("{who},yesterday,page_view,x\n"));
        } else {
            f.push_str(&format!("{who},2026-01-01T00:00:00Z,page_view,x\n"));
        }
    }
    // header = line 1, row i starts at line i + 2, plus one for the quoted line break
    refused(
        "events",
        "big.csv",
        f.as_bytes(),
        &[],
        "big.csv:15003: `yesterday` is not a timestamp (expected RFC 3339 such as 2026-01-31T09:30:00Z)",
    );
}

/// Rows are parsed on the reader thread, batches ahead of the rows being
/// applied: a bad row far into the file, after whole batches of good ones,
/// still fails the import with its own line, and nothing is written.
#[test]
fn a_bad_row_after_many_good_ones_names_its_line_and_writes_nothing() {
    let mut csv = String::from("external_id,email,timezone,consent_email,created_at\n");
    for i in 0..9000 {
        csv.push_str(&format!("k{i},k{i}@example.com,Europe/Rome,true,2025-01-02T03:04:05Z\n"));
    }
    let good = csv.clone();
    csv.push_str("k9000,k9000@example.com,Mars/Olympus,true,2025-01-02T03:04:05Z\n");
    refused(
        "contacts",
        "late.csv",
        csv.as_bytes(),
        &[],
        "late.csv:9002: unknown timezone `Mars/Olympus` (expected an IANA name such as Europe/Rome)",
    );
    let mut csv = good;
    csv.push_str("k9000,k9000@example.com,Europe/Rome,maybe,2025-01-02T03:04:05Z\n");
    refused("contacts", "late2.csv", csv.as_bytes(), &[], "late2.csv:9002: consent_email `maybe` is not true or false");
}

/// Which earlier row a repeated key is blamed on, for keys of contacts the
/// file creates, keys it sets on contacts that existed, and contacts it
/// names twice; the same from CSV (rows parsed ahead on the reader thread)
/// and JSONL (parsed as they are applied).
#[test]
fn repeated_keys_in_one_file_are_each_refused_with_the_first_line() {
    const BASE: &str = "external_id,email,score\nX1,old1@example.com,1\nX2,old2@example.com,2\n,old3@example.com,3\n";
    let rows = [
        ("N1", "new1@example.com", "", ""),
        ("N1", "other@example.com", "", ""),
        ("N2", "NEW1@Example.com", "", ""),
        ("X1", "", "", ""),
        ("X1", "", "", ""),
        ("", "old2@example.com", "", ""),
        ("X2", "", "", ""),
        ("X3", "old3@example.com", "", ""),
        ("X3", "", "", ""),
        ("", "OLD3@example.com", "", ""),
        ("N4", "new4@example.com", "Mars/Base", ""),
        ("N5", "new5@example.com", "", "maybe"),
        ("X9", "old1@example.com", "", ""),
        ("N6", "", "", ""),
        ("N6", "", "", ""),
        ("", "new7@example.com", "", ""),
        ("", "new7@example.com", "", ""),
        ("N8", "old2@example.com", "", ""),
    ];
    let expected = [
        "3,duplicate external_id `N1` (first on line 2)",
        "4,duplicate email `NEW1@Example.com` (first on line 2)",
        "6,duplicate external_id `X1` (first on line 5)",
        "8,this row is for contact 2 which line 7 already imported",
        "10,duplicate external_id `X3` (first on line 9)",
        "11,duplicate email `OLD3@example.com` (first on line 9)",
        "12,unknown timezone `Mars/Base` (expected an IANA name such as Europe/Rome)",
        "13,consent_email `maybe` is not true or false",
        "14,this row is for contact 1 which line 5 already imported",
        "16,duplicate external_id `N6` (first on line 15)",
        "18,duplicate email `new7@example.com` (first on line 17)",
        "19,duplicate email `old2@example.com` (first on line 7)",
    ];
    let mut csv = String::from("external_id,email,timezone,consent_email\n");
    // a blank first line, so the JSONL lines are numbered as the CSV rows
    let mut jsonl = String::from("\n");
    for (x, e, tz, consent) in rows {
        csv.push_str(&format!("{x},{e},{tz},{consent}\n"));
        let fields: Vec<String> = [("external_id", x), ("email", e), ("timezone", tz), ("consent_email", consent)]
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("\"{k}\":\"{v}\""))
            .collect();
        jsonl.push_str(&format!("{{{}}}\n", fields.join(",")));
    }
    let mut exports = Vec::new();
    for (name, contents) in [("dup.csv", &csv), ("dup.jsonl", &jsonl)] {
        let env = Env::new();
        env.import("contacts", "base.csv", BASE, &[]).ok();
        env.import("contacts", name, contents, &["--skip-invalid", "--rejects", "r.csv"]).ok();
        let rejects = env.read("r.csv");
        let reasons: Vec<String> = rejects
            .lines()
            .skip(1)
            .map(|l| {
                // the last two columns: line and reason (no reason holds a comma)
                let mut parts = l.rsplitn(3, ',');
                let (reason, line) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                format!("{line},{reason}")
            })
            .collect();
        assert_eq!(reasons, expected, "{name}: {rejects}");
        exports.push(env.export("contacts"));
    }
    assert_eq!(exports[0], exports[1], "CSV and JSONL import the same contacts");
    let rows = exports[0].lines().count() - 1;
    assert_eq!(rows, 3 + 3, "three contacts before, three created");
}

/// Keys that name two contacts, or an email matched to a contact whose
/// external id is another, are refused with the row's line; so is a key
/// a contact of the same file already took.
#[test]
fn keys_naming_two_contacts_are_refused() {
    refused(
        "contacts",
        "swap.csv",
        b"external_id,email\nc1,c2@example.com\n",
        &[],
        "swap.csv:2: external_id `c1` is contact 1 but email `c2@example.com` is contact 2",
    );
    refused(
        "contacts",
        "other.csv",
        b"external_id,email\nc9,C1@Example.com\n",
        &[],
        "other.csv:2: email `C1@Example.com` belongs to contact 1 whose external_id is `c1`, not `c9`",
    );
    refused(
        "contacts",
        "twice.csv",
        b"external_id,email\nn1,n1@example.com\nn2,N1@example.com\n",
        &[],
        "twice.csv:3: duplicate email `N1@example.com` (first on line 2)",
    );
}
