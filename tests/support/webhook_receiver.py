#!/usr/bin/python3
"""A local webhook receiver for the delivery tests (python3 http.server).

Verifies each call as docs/delivery.md tells receivers to: the HMAC-SHA256
of "<X-Orgsync-Timestamp>.<body>" keyed by the secret must equal
X-Orgsync-Signature, and the timestamp must be within 5 minutes. Appends one
JSON line per request to --log: {"id", "ts", "valid", "answer", "at" (unix
ms when it arrived), "body"}. What it answers a valid call comes from the
file --mode, read at each request: "200" (the default when absent), "500",
or "sleep N" (wait N seconds, then 200); an invalid one gets 401. Writes its
port to --port-file once it listens.

    webhook_receiver.py --secret S --log FILE --mode FILE --port-file FILE
"""
import argparse
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()


def verify(secret, ts, body, signature):
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest("sha256=" + mac, signature or ""):
        return False
    try:
        return abs(time.time() - int(ts)) <= 300
    except ValueError:
        return False


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        at = int(time.time() * 1000)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ts = self.headers.get("X-Orgsync-Timestamp", "")
        valid = verify(ARGS.secret, ts, body, self.headers.get("X-Orgsync-Signature"))
        mode = "200"
        if os.path.exists(ARGS.mode):
            with open(ARGS.mode) as f:
                mode = f.read().strip() or "200"
        answer = 401
        if valid:
            if mode.startswith("sleep "):
                self.record(at, ts, valid, "arrived", body)
                time.sleep(float(mode.split()[1]))
                answer = 200
            else:
                answer = int(mode)
        self.send_response(answer)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.record(at, ts, valid, answer, body)

    def record(self, at, ts, valid, answer, body):
        line = json.dumps({"id": self.headers.get("X-Orgsync-Delivery"), "ts": ts,
                           "valid": valid, "answer": answer, "at": at,
                           "body": body.decode("utf-8", "replace")})
        with LOCK, open(ARGS.log, "a") as f:
            f.write(line + "\n")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--secret", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--mode", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--port", type=int, default=0)
    ARGS = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    with open(ARGS.port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
