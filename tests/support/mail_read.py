#!/usr/bin/python3
"""Prints an email file (.eml) as JSON, its headers decoded the way a mail
reader shows them (RFC 2047), for the delivery tests:
{"from", "to", "toName", "toAddr", "subject", "messageId", "date", "mime",
 "contentType", "encoding", "rawSubject", "rawTo", "longestLine", "body"}.

    mail_read.py FILE
"""
import email
import email.policy
import email.utils
import json
import sys

raw = open(sys.argv[1], "rb").read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
compat = email.message_from_bytes(raw)
name, addr = email.utils.parseaddr(str(msg["To"]))
print(json.dumps({
    "from": str(msg["From"]), "to": str(msg["To"]), "toName": name, "toAddr": addr,
    "subject": str(msg["Subject"]), "messageId": str(msg["Message-ID"]),
    "date": str(msg["Date"]), "mime": str(msg["MIME-Version"]),
    "contentType": str(msg["Content-Type"]),
    "encoding": str(msg["Content-Transfer-Encoding"]),
    "delivery": str(msg["X-Orgsync-Delivery"]),
    "rawSubject": compat["Subject"], "rawTo": compat["To"],
    "longestLine": max(len(l) for l in raw.split(b"\r\n")),
    "crlf": raw.count(b"\n") == raw.count(b"\r\n"),
    "body": msg.get_content(),
}, ensure_ascii=False))
