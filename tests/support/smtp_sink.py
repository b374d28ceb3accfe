#!/usr/bin/python3
"""A local SMTP server for the delivery tests (Debian's python3-aiosmtpd).

Stores each message it accepts as DIR/NNNNNN.eml (written whole, then
renamed into place) and appends "NNNNNN RCPT" to DIR/received.log, one line
per recipient. Refuses the recipients given with --refuse (550) and
answers everything else. Writes the port it listens on to --port-file once
it accepts connections; --port 0 picks a free one.

    smtp_sink.py --dir DIR --port-file FILE [--port N] [--refuse ADDR]...
"""
import argparse
import asyncio
import os
import signal

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, folder, refuse):
        self.folder = folder
        self.refuse = {a.lower() for a in refuse}
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 <%s>: recipient refused by this test server" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = "%06d-%d" % (self.count, os.getpid())
        tmp = os.path.join(self.folder, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.folder, name + ".eml"))
        with open(os.path.join(self.folder, "received.log"), "a") as log:
            for rcpt in envelope.rcpt_tos:
                log.write("%s %s\n" % (name, rcpt))
        return "250 Message accepted for delivery"


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--refuse", action="append", default=[])
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    handler = Sink(a.dir, a.refuse)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", data_size_limit=10 << 20),
        host="127.0.0.1", port=a.port, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(a.port_file + ".tmp", a.port_file)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
