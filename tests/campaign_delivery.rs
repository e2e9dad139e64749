//! The network adapters against real servers on loopback: SMTP through
//! Python's aiosmtpd (tests/support/smtp_server.py), and a webhook receiver
//! written here over std's TcpListener. Plus the `[delivery]`
//! configuration's refusals.
//!
//! The SMTP tests require python3 and aiosmtpd: `scripts/test.sh` (the
//! README's test command) installs them when missing. Without them those
//! tests fail with one line naming what is missing and how to install it.

mod common;

use common::Env;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

const START: &str = "2026-11-23T06:00:00Z";
const END: &str = "2026-11-24T06:00:00Z";

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Fails with one line, before any Python runs, when python3 or aiosmtpd
/// is missing (rather than with a Python traceback).
fn require_aiosmtpd() {
    common::require_program("python3", &["python3", "--version"], "apt-get install python3 python3-pip");
    common::require_program(
        "aiosmtpd (Python)",
        &["python3", "-c", "import aiosmtpd"],
        "python3 -m pip install aiosmtpd",
    );
}

/// aiosmtpd on `port`, appending accepted messages to `out`.
struct SmtpServer {
    child: Child,
}

impl SmtpServer {
    fn start(env: &Env, out: &str, port: u16) -> SmtpServer {
        require_aiosmtpd();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(env.path(out))
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python3 tests/support/smtp_server.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        if line.trim() != "ready" {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("the SMTP server did not start:\n{err}");
        }
        SmtpServer { child }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // it stops when stdin closes
        let _ = self.child.wait();
    }
}

fn policy(env: &Env) {
    env.write("p.toml", "timezone = \"UTC\"\n");
    env.run(&["policy", "set", "p.toml"]).ok();
}

fn campaign(env: &Env, name: &str, channel: &str, at: &str) {
    env.write(
        "c.toml",
        format!(
            "name = \"{name}\"\nchannel = \"{channel}\"\nsubject = \"Ciao {{{{ first_name }}}}\"\n\
             body = \"Offerta per {{{{ first_name }}}}, {name}\"\n\
             [audience]\ninclude = [\"tag:all\"]\n[schedule]\nat = \"{at}\"\n"
        ),
    );
    env.run(&["--now", START, "campaign", "create", "c.toml"]).ok();
    env.run(&["--now", START, "campaign", "schedule", name]).ok();
}

fn scheduler(env: &Env) -> serde_json::Value {
    env.json(&["--config", "config.toml", "--now", START, "scheduler", "run", "--until", END])
}

/// Accepted messages by recipient.
fn received(env: &Env, out: &str) -> HashMap<String, Vec<String>> {
    let text = std::fs::read_to_string(env.path(out)).unwrap_or_default();
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for part in text.split("=====MSG ").skip(1) {
        let (rcpt, msg) = part.split_once('\n').unwrap();
        m.entry(rcpt.to_string()).or_default().push(msg.to_string());
    }
    m
}

const PEOPLE: [(&str, &str); 5] = [
    ("anna@x.it", "Anna"),
    ("bruno@x.it", "Bruno"),
    ("busy@x.it", "Carla"),
    ("dario@x.it", "Dario"),
    ("reject@x.it", "Elena"),
];

fn email_world() -> Env {
    let env = Env::new();
    let mut csv = String::from("external_id,email,first_name,consent_email,timezone,tags\n");
    for (i, (email, name)) in PEOPLE.iter().enumerate() {
        csv.push_str(&format!("p{i},{email},{name},true,UTC,all\n"));
    }
    env.import("contacts", "c.csv", &csv, &[]).ok();
    policy(&env);
    env
}

fn smtp_config(env: &Env, port: u16) {
    env.write(
        "config.toml",
        format!(
            "[delivery]\ntries = 3\nbackoff_ms = 10\nmax_backoff_ms = 40\n\n[delivery.email]\nadapter = \"smtp\"\n\
             host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"Shop <news@shop.example>\"\n"
        ),
    );
}

#[test]
fn smtp_delivers_each_message_once_retries_4xx_and_records_5xx() {
    let env = email_world();
    let port = free_port();
    smtp_config(&env, port);
    let _server = SmtpServer::start(&env, "mail.txt", port);
    campaign(&env, "launch", "email", "2026-11-23T10:00:00Z");

    let out = scheduler(&env);
    assert_eq!(out["totals"]["sent"], 5, "{out}");
    assert_eq!(out["totals"]["failed"], 1, "{out}");
    let got = received(&env, "mail.txt");
    assert_eq!(got.len(), 4, "{got:?}");
    for (i, (email, name)) in PEOPLE.iter().enumerate() {
        if email.starts_with("reject") {
            assert!(!got.contains_key(*email));
            continue;
        }
        let msgs = &got[*email];
        assert_eq!(msgs.len(), 1, "{email}: {msgs:?}");
        let m = &msgs[0];
        assert!(m.contains(&format!("Subject: Ciao {name}\r\n")), "{m}");
        assert!(m.contains(&format!("Offerta per {name}, launch")), "{m}");
        assert!(m.contains("From: Shop <news@shop.example>\r\n"), "{m}");
        let key = format!("launch:20261123T1000:{}", i + 1);
        assert!(m.contains(&format!("X-Reach-Key: {key}\r\n")), "{m}");
        assert!(m.contains(&format!("Message-ID: <{}@reach.invalid>\r\n", key.replace(':', "."))), "{m}");
    }
    // busy@ was refused once (451) and accepted on the retry
    let rcpts = env.read("mail.txt.rcpt");
    assert_eq!(rcpts.lines().filter(|l| *l == "busy@x.it").count(), 2, "{rcpts}");
    assert_eq!(rcpts.lines().filter(|l| *l == "reject@x.it").count(), 1, "a 5xx is not retried: {rcpts}");

    let show = env.json(&["campaign", "show", "launch"]);
    let stats = &show["stats"];
    assert_eq!(
        (stats["sent"].as_u64(), stats["failed"].as_u64(), stats["pending"].as_u64()),
        (Some(4), Some(1), Some(0))
    );

    // a second run sends nothing new
    let again = scheduler(&env);
    assert_eq!(again["totals"]["decided"], 0, "{again}");
    let after = received(&env, "mail.txt");
    assert_eq!(after.values().map(Vec::len).sum::<usize>(), 4);
    assert_eq!(env.read("mail.txt.rcpt").lines().count(), rcpts.lines().count());
}

#[test]
fn smtp_down_leaves_messages_pending_and_a_restart_delivers_them_once() {
    let env = email_world();
    let port = free_port();
    smtp_config(&env, port);
    campaign(&env, "launch", "email", "2026-11-23T10:00:00Z");
    // nobody listens: connection refused, retried, then the run stops
    let r = env.run(&["--config", "config.toml", "--now", START, "scheduler", "run", "--until", END]);
    let err = r.fails(0);
    assert!(err.contains("gave up after 3 tries"), "{err}");
    let stats = env.json(&["campaign", "show", "launch"])["stats"].clone();
    assert_eq!((stats["sent"].as_u64(), stats["pending"].as_u64()), (Some(0), Some(5)), "{stats}");

    let _server = SmtpServer::start(&env, "mail.txt", port);
    let out = scheduler(&env);
    assert_eq!(out["totals"]["recovered"], 5, "{out}");
    let got = received(&env, "mail.txt");
    assert_eq!(got.len(), 4);
    assert!(got.values().all(|v| v.len() == 1), "{got:?}");
    let stats = env.json(&["campaign", "show", "launch"])["stats"].clone();
    assert_eq!(
        (stats["sent"].as_u64(), stats["failed"].as_u64(), stats["pending"].as_u64()),
        (Some(4), Some(1), Some(0))
    );
    scheduler(&env);
    assert_eq!(received(&env, "mail.txt").values().map(Vec::len).sum::<usize>(), 4);
}

/// One request as the webhook receiver saw it.
#[derive(Clone, Debug)]
struct Req {
    key: String,
    body: serde_json::Value,
    status: u16,
}

/// A webhook receiver: records every request; answers 500 to the first
/// request of each key of an even contact, 422 for the phone
/// +390000000000, else 200, delivering each key to the "application" once
/// (dedup by `Idempotency-Key`, as a real receiver would).
#[derive(Default)]
struct Receiver {
    requests: Vec<Req>,
    delivered: HashMap<String, u32>,
}

fn serve(listener: TcpListener, state: Arc<Mutex<Receiver>>) {
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let state = state.clone();
        std::thread::spawn(move || handle(conn, &state));
    }
}

fn handle(conn: TcpStream, state: &Mutex<Receiver>) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        assert!(line.starts_with("POST "), "{line}");
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        let len: usize = headers["content-length"].parse().unwrap();
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let key = headers.get("idempotency-key").cloned().unwrap_or_default();
        let mut s = state.lock().unwrap();
        let contact = body["contact"].as_u64().unwrap();
        let status = if body["to"] == "+390000000000" {
            422
        } else if contact.is_multiple_of(2) && !s.requests.iter().any(|q| q.key == key) {
            500
        } else {
            200
        };
        if status == 200 {
            *s.delivered.entry(key.clone()).or_default() += 1;
        }
        s.requests.push(Req { key, body, status });
        drop(s);
        let reason = match status {
            200 => "OK",
            422 => "Unprocessable Entity",
            _ => "Internal Server Error",
        };
        write!(w, "HTTP/1.1 {status} {reason}\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok").unwrap();
        w.flush().unwrap();
    }
}

#[test]
fn webhook_posts_each_message_with_a_stable_idempotency_key_and_retries_5xx() {
    let env = Env::new();
    let mut csv = String::from("external_id,phone,first_name,consent_sms,timezone,tags\n");
    let phones = ["+393331000001", "+393331000002", "+393331000003", "+390000000000", "+393331000005", "+393331000006"];
    for (i, p) in phones.iter().enumerate() {
        csv.push_str(&format!("s{i},{p},N{i},true,UTC,all\n"));
    }
    env.import("contacts", "c.csv", &csv, &[]).ok();
    policy(&env);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = Arc::new(Mutex::new(Receiver::default()));
    {
        let state = state.clone();
        std::thread::spawn(move || serve(listener, state));
    }
    env.write(
        "config.toml",
        format!(
            "[delivery]\nbackoff_ms = 10\nmax_backoff_ms = 40\n[delivery.sms]\nadapter = \"webhook\"\n\
             url = \"http://127.0.0.1:{port}/hooks/sms\"\ntimeout_ms = 5000\n"
        ),
    );
    campaign(&env, "promo", "sms", "2026-11-23T10:00:00Z");
    let out = scheduler(&env);
    assert_eq!((out["totals"]["sent"].as_u64(), out["totals"]["failed"].as_u64()), (Some(6), Some(1)), "{out}");

    let s = state.lock().unwrap().requests.clone();
    let delivered = state.lock().unwrap().delivered.clone();
    for (i, phone) in phones.iter().enumerate() {
        let id = i as u64 + 1;
        let key = format!("promo:20261123T1000:{id}");
        let mine: Vec<&Req> = s.iter().filter(|q| q.body["contact"] == id).collect();
        // the header is the key, on every attempt, and matches the body
        assert!(mine.iter().all(|q| q.key == key && q.body["key"] == key.as_str()), "{mine:?}");
        let b = &mine[0].body;
        assert_eq!(
            (b["campaign"].as_str(), b["channel"].as_str(), b["to"].as_str()),
            (Some("promo"), Some("sms"), Some(*phone))
        );
        assert_eq!(b["body"], format!("Offerta per N{i}, promo"));
        let statuses: Vec<u16> = mine.iter().map(|q| q.status).collect();
        if *phone == "+390000000000" {
            assert_eq!(statuses, [422], "a 4xx is permanent");
            assert!(!delivered.contains_key(&key));
        } else if id.is_multiple_of(2) {
            assert_eq!(statuses, [500, 200], "a 5xx is retried");
            assert_eq!(delivered[&key], 1);
        } else {
            assert_eq!(statuses, [200]);
            assert_eq!(delivered[&key], 1);
        }
    }
    let stats = env.json(&["campaign", "show", "promo"])["stats"].clone();
    assert_eq!((stats["sent"].as_u64(), stats["failed"].as_u64()), (Some(5), Some(1)), "{stats}");

    // a second run posts nothing
    let n = s.len();
    let again = scheduler(&env);
    assert_eq!(again["totals"]["decided"], 0);
    assert_eq!(state.lock().unwrap().requests.len(), n);
}

#[test]
fn bad_delivery_config_is_refused_with_its_line() {
    let env = Env::new();
    env.run(&["--now", START, "demo", "--contacts", "20"]).ok();
    for (text, line, what) in [
        ("[delivery.email]\nadapter = \"pigeon\"\n", 2, "pigeon"),
        ("[delivery]\ntries = 0\n", 2, "tries"),
        ("[delivery.sms]\nadapter = \"smtp\"\nhost = \"h\"\n", 2, "email only"),
        ("[delivery.email]\nadapter = \"smtp\"\n", 1, "host"),
        ("# hooks\n[delivery.push]\nadapter = \"webhook\"\nurl = \"ftp://x\"\n", 4, "http"),
        ("[delivery.email]\nadapter = \"maildir\"\nhost = \"x\"\n", 1, "host"),
    ] {
        env.write("bad.toml", text);
        let err = env.run(&["--config", "bad.toml", "scheduler", "run", "--once"]).fails(2);
        assert!(err.contains(&format!("bad.toml:{line}:")) && err.contains(what), "{text}\n→ {err}");
    }
}
