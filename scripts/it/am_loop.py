#!/usr/bin/env python3
"""The response loop for an Alertmanager-sent alert, against a running `vigil serve`
(driven by scripts/prometheus-it.sh; the standard library only).

  am_loop.py receiver PORT FILE   a local chat receiver: each POST body, one JSON per line
  am_loop.py setup URL PAGER_URL  as the admin and an editor: the on-call's pager channel,
                                  a schedule with the responder on call, an escalation
                                  policy paging it, and that policy on the routing tree's
                                  P2 route (before any alert arrives)
  am_loop.py traffic URL          the Technical page's API traffic panel shows Vigil's own
                                  routes (read back from Prometheus)
  am_loop.py check URL FILE NAME  waits for the page of alert NAME, then as the responder:
                                  acknowledges it in the console, opens an incident from
                                  it, and checks the incident shows the alert and the page

Every step prints what it saw; any surprise exits non-zero with the answer that caused it.
"""
import http.cookiejar
import http.server
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ADMIN = ("it-admin@example.com", "it-admin-password")
EDITOR = ("it-editor@example.com", "it-editor-password")
RESPONDER = ("it-oncall@example.com", "it-oncall-password")


def fail(msg):
    print(f"  FAILED: {msg}", flush=True)
    sys.exit(1)


class Session:
    """A signed-in browser: the console's server functions under /rpc."""

    def __init__(self, base, who):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.rpc("login", {"email": who[0], "password": who[1]})

    def rpc(self, name, args, json_input=False):
        if json_input:
            body, ctype = json.dumps(args).encode(), "application/json"
        else:
            body, ctype = urllib.parse.urlencode(args).encode(), "application/x-www-form-urlencoded"
        req = urllib.request.Request(
            f"{self.base}/rpc/{name}",
            data=body,
            headers={"Content-Type": ctype, "Accept": "application/json"},
        )
        try:
            with self.opener.open(req, timeout=10) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            fail(f"/rpc/{name} answered {e.code}: {e.read().decode()[:500]}")
        return json.loads(text) if text else None


def receiver(port, path):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with open(path, "ab") as f:
                f.write(body.replace(b"\n", b" ") + b"\n")
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    http.server.HTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


def find_route(route, severity):
    for m in route.get("matchers", []):
        if m["name"] == "severity" and m["value"] == severity:
            return route
    for child in route.get("routes", []):
        hit = find_route(child, severity)
        if hit:
            return hit
    return None


def setup(base, pager_url):
    admin = Session(base, ADMIN)
    pager = admin.rpc(
        "alerts/create_channel",
        {"name": "oncall-pager", "kind": "slack", "url": pager_url, "secret": ""},
    )
    people = admin.rpc("incidents/people", {})
    oncall = next((p for p in people if p["name"] in ("IT On-call", RESPONDER[0])), None)
    if not oncall:
        fail(f"the responder is not among {people}")
    editor = Session(base, EDITOR)
    schedule = editor.rpc(
        "oncall/schedule-save",
        {
            "id": 0,
            "version": 0,
            "spec": {
                "name": "IT primary",
                "description": "",
                "time_zone": "UTC",
                "layers": [
                    {
                        "name": "All week",
                        "participants": [oncall["id"]],
                        "rotation": {"kind": "weekly", "every": 1, "start": "2026-01-05T09:00"},
                        "restrictions": [],
                    }
                ],
            },
        },
        json_input=True,
    )
    policy = editor.rpc(
        "oncall/policy-save",
        {
            "id": 0,
            "version": 0,
            "spec": {
                "name": "IT paging",
                "description": "",
                "steps": [{"targets": [{"kind": "schedule", "id": schedule}], "delay_min": 5}],
                "repeat": 0,
                "channel_ids": [pager],
            },
        },
        json_input=True,
    )
    text, version = editor.rpc("alerts/policy", {})
    tree = json.loads(text)
    p2 = find_route(tree["route"], "P2")
    if not p2:
        fail(f"no P2 route in the default tree: {text}")
    p2["escalation_policy_id"] = policy
    editor.rpc("alerts/save_policy", {"policy": json.dumps(tree), "version": version})
    test = editor.rpc("alerts/route_test", {"labels": 'alertname="AlwaysFiring", severity="P2"'})
    print(f"  pager channel {pager}, schedule {schedule}, policy {policy} on the P2 route", flush=True)
    print(f"  route tester for severity=P2: {json.dumps(test)[:300]}", flush=True)


def pages_of(path, name):
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(l) for l in lines if name in l]


def check(base, path, name):
    deadline = time.time() + 90
    while not pages_of(path, name):
        if time.time() > deadline:
            fail(f"no page for {name} within 90 s; the receiver got: {open(path).read() if _exists(path) else 'nothing'}")
        time.sleep(1)
    page = pages_of(path, name)[0]["text"]
    print(f"  the on-call's pager got: {page.splitlines()[0]!r}", flush=True)
    for want in ("Paging IT On-call (escalation step 1)", "Acknowledge: "):
        if want not in page:
            fail(f"the page lacks {want!r}: {page}")

    oncall = Session(base, RESPONDER)
    firing = oncall.rpc("alerts/firing", {})
    row = next((r for r in firing["rows"] if r["name"] == name), None)
    if not row:
        fail(f"{name} not on the firing list: {firing}")
    if row["source"] == "vigil" or row["escalation_id"] is None:
        fail(f"expected an Alertmanager alert being paged: {row}")
    print(f"  firing list: {name} from {row['source']}, paging (escalation {row['escalation_id']})", flush=True)
    if oncall.rpc("alerts/ack", {"episode_key": row["episode_key"]}) is not True:
        fail("the acknowledgement was not taken")
    row = next(r for r in oncall.rpc("alerts/firing", {})["rows"] if r["name"] == name)
    if not row["acked_by"]:
        fail(f"not shown as acknowledged: {row}")
    print(f"  acknowledged in the console: acked by {row['acked_by']}", flush=True)

    code = oncall.rpc(
        "incidents/from_alert",
        {"source": row["source"], "fingerprint": row["fingerprint"]},
    )
    inc = oncall.rpc("incidents/get", {"code": code})
    if [a["title"] for a in inc["alerts"]] != [name] and not any(name in a["title"] for a in inc["alerts"]):
        fail(f"the incident does not carry the alert: {inc['alerts']}")
    if inc["fields"]["severity"] != "P2":
        fail(f"expected a P2 incident, got {inc['fields']['severity']}")
    print(f"  incident {code} ({inc['fields']['severity']}): {inc['fields']['title']!r}, alert linked", flush=True)
    paging = oncall.rpc("incidents/paging", {"code": code})
    print(f"  incident paging: {[(p['policy'], p['state']) for p in paging]}", flush=True)

    # Acknowledged: no further page for this alert (the policy's step would have repeated
    # nothing, but a new run would page again).
    time.sleep(3)
    n = len(pages_of(path, name))
    if n != 1:
        fail(f"expected exactly one page for {name}, got {n}")
    print("  exactly one page was sent", flush=True)


def traffic(base):
    """The Technical page's API traffic panel reads Vigil's own request metrics back from
    Prometheus (the script names them with VIGIL_TRAFFIC_*): routes with a rate."""
    admin = Session(base, ADMIN)
    deadline = time.time() + 60
    while True:
        v = admin.rpc("technical/traffic", {})
        rows = [r for r in v["rows"] if r[1] != "—"]
        if v["configured"] and not v["error"] and any(r[0] == "/api/v1/alerts" for r in rows):
            row = next(r for r in rows if r[0] == "/api/v1/alerts")
            if row[2] == "—":
                fail(f"a route without 5xx must show an error rate of 0, not none: {row}")
            print(f"  traffic panel: {len(rows)} routes; /api/v1/alerts {row[1]}, errors {row[2]}, P95 {row[4]}", flush=True)
            return
        if time.time() > deadline:
            fail(f"the traffic panel shows no route rates: {v}")
        time.sleep(2)


def _exists(path):
    try:
        open(path).close()
        return True
    except FileNotFoundError:
        return False


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"receiver": receiver, "setup": setup, "check": check, "traffic": traffic}[cmd](*args)
