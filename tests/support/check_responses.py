#!/usr/bin/python3
"""Validates the answers the end-to-end tests received against the OpenAPI
description: each recorded request (tests/e2e/lib.sh, record_response) is
matched to its documented route, its status must be one the route
documents, with a content type it documents, and a JSON body must hold to
the schema of that route, status and type (JSON Schema 2020-12, as OpenAPI
3.1 uses). Requests to undocumented routes or methods (tests of 404 and
405) are counted, not judged. Prints one ok/not ok line per route and
status, and exits 1 on any failure.

    check_responses.py OPENAPI.json DIR
"""
import glob
import hashlib
import json
import sys
import urllib.parse
import warnings

from jsonschema import Draft202012Validator

warnings.simplefilter("ignore", DeprecationWarning)
from jsonschema import RefResolver  # noqa: E402  (deprecated, but in every 4.x)

doc = json.load(open(sys.argv[1]))
resolver = RefResolver("urn:openapi", doc)
routes = []
for template, item in doc["paths"].items():
    segs = template.split("/")[1:]
    for method, op in item.items():
        routes.append((method.upper(), segs, template, op))


def find(method, path):
    segs = [urllib.parse.unquote(s) for s in path.split("?")[0].split("/")[1:]]
    for m, tsegs, template, op in routes:
        if m != method or len(tsegs) != len(segs):
            continue
        if all(t == s or (t.startswith("{") and s) for t, s in zip(tsegs, segs)):
            return template, op
    return None, None


def deref(obj):
    while isinstance(obj, dict) and "$ref" in obj:
        obj = resolver.resolve(obj["$ref"])[1]
    return obj


validators = {}
failures = {}
passed = {}
undocumented = 0
seen = set()
for idx in sorted(glob.glob(sys.argv[2] + "/*.idx")):
    bodies = open(idx[:-4] + ".bodies", "rb").read() if glob.glob(idx[:-4] + ".bodies") else b""
    source = idx.rsplit("/", 1)[-1].split(".")[0]
    for line in open(idx, encoding="utf-8", errors="replace"):
        parts = line.rstrip("\n").split("\t")
        # 000: no answer (a test cut the connection); 1xx: not a final answer.
        if len(parts) != 6 or parts[2] == "000" or parts[2].startswith("1"):
            continue
        method, path, status, ctype, off, size = parts
        body = bodies[int(off):int(off) + int(size)]
        template, op = find(method, path)
        if not op:
            undocumented += 1
            continue
        key = (method, template, status, ctype, hashlib.sha1(body).hexdigest())
        if key in seen:
            continue
        seen.add(key)
        name = "%s %s %s" % (method, template, status)
        resp = deref(op.get("responses", {}).get(status))
        why = None
        bare = not ctype and status in ("413", "414", "431")
        if bare and resp is not None:
            # Refused by libmicrohttpd itself, before the service saw the request: its own page.
            pass
        elif resp is None:
            why = "status %s is not documented (documented: %s)" % (status, ", ".join(sorted(op["responses"])))
        else:
            mtype = ctype.split(";")[0].strip().lower()
            content = resp.get("content")
            if not content:
                if body:
                    why = "the documented answer has no body, got %d bytes of %s" % (len(body), mtype)
            elif mtype not in content:
                why = "content type %s is not documented (documented: %s)" % (mtype, ", ".join(content))
            elif mtype == "application/json":
                vkey = (template, method, status)
                if vkey not in validators:
                    validators[vkey] = Draft202012Validator(content[mtype]["schema"], resolver=resolver)
                try:
                    value = json.loads(body)
                    errors = sorted(validators[vkey].iter_errors(value), key=lambda e: list(e.path))
                    if errors:
                        e = errors[0]
                        why = "at /%s: %s" % ("/".join(map(str, e.path)), e.message[:300])
                except ValueError as e:
                    why = "not JSON: %s" % e
        if why:
            failures.setdefault(name, []).append("%s (%s, from %s)" % (why, path[:120], source))
        else:
            passed[name] = passed.get(name, 0) + 1

for name in sorted(set(passed) | set(failures)):
    if name in failures:
        print("not ok - responses: %s" % name)
        for f in failures[name][:3]:
            print("    " + f)
    else:
        print("ok - responses: %s (%d distinct answers)" % (name, passed[name]))
print("# responses: %d distinct answers checked, %d requests to undocumented routes or methods"
      % (len(seen), undocumented))
sys.exit(1 if failures else 0)
