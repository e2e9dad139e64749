#!/usr/bin/env bash
# The console from a fresh process in a real terminal (BENCHMARKS.md
# "Console"): `reach --db DB --now NOW console` in tmux, on a private socket,
# at 160x48.
#
#   scripts/bench_console.sh DB [NOW] [RUNS]     # RUNS (5) starts, then idle CPU
#   scripts/bench_console.sh --once DB [NOW]     # one start, for whole-process timers
#
# For each run: the time from just before tmux starts the process to the
# first screen showing "Contacts N of N contacts" with rows, and to the rows'
# last-activity column filled (the facts job); the screen is read with
# `capture-pane` every 5 ms. Before the runs, the same is timed for a
# command that prints at once (what tmux and the polling add). After the
# runs, one more start, then 10 s of nothing: CPU seconds the process used
# meanwhile (utime+stime from /proc/PID/stat), and its peak memory.
# REACH=path picks the binary (default target/release/reach).
set -euo pipefail

once=0
if [[ "${1:-}" == "--once" ]]; then
    once=1
    shift
fi
if [[ $# -lt 1 ]]; then
    echo "usage: scripts/bench_console.sh [--once] DB [NOW] [RUNS]" >&2
    exit 2
fi
db=$1
now=${2:-2026-11-24T12:00:00Z}
runs=${3:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${REACH:-$here/target/release/reach}
[[ -x "$bin" ]] || { echo "no binary at $bin: cargo build --release" >&2; exit 2; }
[[ -f "$db" ]] || { echo "no database at $db" >&2; exit 2; }
command -v tmux >/dev/null || { echo "tmux is needed (apt-get install tmux)" >&2; exit 2; }

exec python3 - "$bin" "$db" "$now" "$runs" "$once" <<'PY'
import os, re, statistics, subprocess, sys, time

bin_, db, now, runs, once = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
sock = f"reach-bench-{os.getpid()}"
W, H = 160, 48
TITLE = re.compile(r"Contacts (\d+) of (\d+) contacts")
DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d\s*$")
TICK = os.sysconf("SC_CLK_TCK")


def tmux(*args, check=True):
    r = subprocess.run(["tmux", "-f", "/dev/null", "-L", sock, *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"tmux {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def screen():
    return tmux("capture-pane", "-p", "-t", "b", check=False)


def start(command):
    """Starts `command` in a new server; returns the monotonic start in ns."""
    t0 = time.monotonic_ns()
    tmux("new-session", "-d", "-s", "b", "-x", str(W), "-y", str(H), command)
    return t0


def pane_pid():
    return int(tmux("display-message", "-p", "-t", "b", "#{pane_pid}").strip())


def wait_for(pred, t0, timeout=120):
    """Polls the screen every 5 ms until pred(text); ms since t0 and the text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = screen()
        if pred(s):
            return (time.monotonic_ns() - t0) / 1e6, s
        time.sleep(0.005)
    raise SystemExit("timed out; the screen was:\n" + screen())


def first_screen(s):
    m = TITLE.search(s)
    return bool(m) and m.group(1) == m.group(2) and "@" in s


def full_rows(s):
    rows = [l for l in s.splitlines() if "@" in l]
    return first_screen(s) and any(DATE.search(l) for l in rows)


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def peak_mb(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmHWM:"):
            return int(l.split()[1]) // 1024
    return 0


def stop(pid):
    tmux("send-keys", "-t", "b", "C-c", check=False)
    deadline = time.monotonic() + 20
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        try:
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        except OSError:
            break
        time.sleep(0.02)
    tmux("kill-server", check=False)
    # the database lock goes with the process
    while os.path.exists(f"/proc/{pid}"):
        time.sleep(0.02)


def console():
    return f"exec {bin_} --db {db} --now {now} console"


def one_start():
    t0 = start(console())
    pid = pane_pid()
    first, s = wait_for(first_screen, t0)
    full, s2 = wait_for(full_rows, t0)
    return pid, first, full, s


def fmt(v):
    return f"min {min(v):.0f} ms, median {statistics.median(v):.0f} ms, max {max(v):.0f} ms"


try:
    if once:
        pid, first, full, _ = one_start()
        print(f"first screen {first:.0f} ms, rows with facts {full:.0f} ms")
        stop(pid)
        sys.exit(0)

    # what tmux and the polling add: a command that prints at once
    base = []
    for _ in range(runs):
        t0 = start("echo ready; exec sleep 60")
        pid = pane_pid()
        ms, _ = wait_for(lambda s: "ready" in s, t0)
        base.append(ms)
        stop(pid)
    print(f"tmux start + first capture of a command that prints at once: {fmt(base)}")

    firsts, fulls = [], []
    for i in range(runs):
        pid, first, full, s = one_start()
        comm = open(f"/proc/{pid}/comm").read().strip()
        firsts.append(first)
        fulls.append(full)
        print(f"run {i + 1} ({comm} pid {pid}): first screen {first:.0f} ms, rows with facts {full:.0f} ms")
        if i == 0:
            lines = s.splitlines()
            print("  " + "\n  ".join(l.rstrip()[:120] for l in lines[:5]))
        stop(pid)
    print(f"start to the first screen with counts and rows: {fmt(firsts)}")
    print(f"start to the rows' last activity filled: {fmt(fulls)}")

    # idle: the screen up and settled, then 10 s without input
    pid, first, full, _ = one_start()
    time.sleep(1.0)
    busy = cpu_s(pid)
    t = time.monotonic()
    c0 = cpu_s(pid)
    time.sleep(10.0)
    c1 = cpu_s(pid)
    dt = time.monotonic() - t
    print(f"CPU used by the start (to rows with facts + 1 s): {busy:.2f} s")
    print(f"idle CPU over {dt:.1f} s with nothing happening: {c1 - c0:.2f} s ({100 * (c1 - c0) / dt:.1f}% of a core)")
    print(f"peak memory of the console process (VmHWM): {peak_mb(pid)} MB")
    stop(pid)
finally:
    tmux("kill-server", check=False)
PY
