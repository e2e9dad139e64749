"""A real SMTP server on loopback for tests/campaign_delivery.rs.

Usage: python3 smtp_server.py OUT_FILE PORT

aiosmtpd's Controller with a handler that appends each accepted message to
OUT_FILE as `=====MSG <recipient>` then the raw message. Recipients starting
with `reject` get a permanent 550; those starting with `busy` get a
transient 451 the first time they are tried. Prints `ready` once listening;
stops when stdin closes.
"""
import sys

from aiosmtpd.controller import Controller

out, port = sys.argv[1], int(sys.argv[2])
tries = {}


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        tries[address] = tries.get(address, 0) + 1
        with open(out + ".rcpt", "a") as f:
            f.write(address + "\n")
        if address.startswith("reject"):
            return "550 5.1.1 no such user"
        if address.startswith("busy") and tries[address] == 1:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with open(out, "ab") as f:
            for r in envelope.rcpt_tos:
                f.write(b"=====MSG " + r.encode() + b"\n" + envelope.content + b"\n")
        return "250 OK queued"


c = Controller(Handler(), hostname="127.0.0.1", port=port)
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
