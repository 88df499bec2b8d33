#!/usr/bin/env python3
"""Two people, three replicas, one Redis: each acts at the vendor as themselves (run by .ci/replicas).

Standard library only; raw JSON-RPC of protocol 2026-07-28 over streamable HTTP, with OAuth
access tokens minted by tests/replicas/issuer.py for the subjects `alice` and `bob`. The
replicas run with `--per-user-credentials fallback`, so the other scripts' caller (`driver`)
acts with the service credential while alice and bob act with their own Bigdata.com keys,
which the simulated vendor (`sandbox --users alice,bob --record FILE`) tells apart and records.

  people  Each person reads `datasource-mcp://me/credentials` on replica 1, opens its `give`
          link and types their own key on replica 2 (as a load balancer may send a browser),
          then writes through the load balancer, both at once. A `${secret:NAME}` asked for on
          replica 1 is typed on replica 2 and serves the call on replica 3. The vendor's record
          must show every write of alice's with alice's key and of bob's with bob's.
  store   Redis is stopped while both keep writing (the replicas still up): every answer must be
          a success or a clear STORE_UNAVAILABLE, and every write answered with success must be
          at the vendor exactly once, with its person's key.

Usage:
  teams.py people LB_URL R1_URL R2_URL R3_URL ISSUER AUDIENCE RECORD SUMMARY
  teams.py store  LB_URL ISSUER AUDIENCE RECORD REDIS_PID SUMMARY
(BIGDATA_BASE_URL, BIGDATA_API_KEY and SANDBOX_USER_<NAME>_BIGDATA_API_KEY from the sandbox.)
"""

import json
import os
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from issuer import mint  # noqa: E402
from mcp2026 import post  # noqa: E402

ERA = "2026-07-28"
PEOPLE = ["alice", "bob"]
BIGDATA_URL = os.environ["BIGDATA_BASE_URL"]
SERVICE_KEY = os.environ["BIGDATA_API_KEY"]
RUN = f"teams-{os.getpid()}"


def fail(message):
    print(f"FAIL (teams): {message}", flush=True)
    sys.exit(1)


# What each person gives, per provider: the variable the sandbox printed their own key as.
OWN = {"bigdata": "BIGDATA_API_KEY", "pdc": "PDC_ACCESS_TOKEN"}


def own_key(person, provider="bigdata"):
    return os.environ[f"SANDBOX_USER_{person.upper()}_{OWN[provider]}"]


class Person:
    """One signed-in person's MCP client (a fresh connection per request: any replica)."""

    def __init__(self, name, issuer, audience):
        self.name = name
        self.token = mint(issuer, audience, name, "datasource:read datasource:write")

    def rpc(self, url, method, params, name=None):
        """(HTTP status, JSON-RPC result or None)."""
        status, answer = post(url, self.token, method, params, name)
        if status != 200:
            return status, None
        if "result" not in answer:
            fail(f"{self.name}: {method} answered {answer}")
        return status, answer["result"]

    def call(self, url, tool, arguments):
        """(structuredContent, isError), or (None, None) when the answer was lost."""
        _, result = self.rpc(url, "tools/call", {"name": tool, "arguments": arguments}, tool)
        if result is None:
            return None, None
        return result.get("structuredContent") or {}, result.get("isError", False)

    def my_credentials(self, url):
        uri = "datasource-mcp://me/credentials"
        status, result = self.rpc(url, "resources/read", {"uri": uri}, uri)
        if result is None:
            fail(f"{self.name}: the resource me/credentials answered HTTP {status}")
        return json.loads(result["contents"][0]["text"])


def page_form(url):
    """GET a link: its form token."""
    with urllib.request.urlopen(url, timeout=10) as r:
        html = r.read().decode()
    m = re.search(r'name="form_token" value="([0-9a-f]+)"', html)
    if not m:
        fail(f"no form at {url}")
    return m.group(1)


def page_post(url, origin, form_token, value):
    """POST the form (as the browser would, from the page's own origin): (status, html)."""
    data = urllib.parse.urlencode({"form_token": form_token, "value": value}).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={
        "content-type": "application/x-www-form-urlencoded", "origin": origin})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def on_replica(link, replica_url):
    """The same link, sent to one replica rather than through the load balancer."""
    l, r = urllib.parse.urlparse(link), urllib.parse.urlparse(replica_url)
    return l._replace(netloc=r.netloc).geturl()


def origin_of(url):
    u = urllib.parse.urlparse(url)
    return f"{u.scheme}://{u.netloc}"


def link_in(text):
    m = re.search(r"https?://[^\s\"')]+/secrets/[0-9a-f]+", text or "")
    return m.group(0) if m else None


def vendor_labels():
    """The simulated vendor's own list, asked directly with the service key."""
    req = urllib.request.Request(f"{BIGDATA_URL}/contents/v1/connectors?limit=10000",
                                 headers={"X-API-KEY": SERVICE_KEY, "accept": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = json.load(r)
    items = body.get("results") if isinstance(body, dict) else body
    return [i.get("label") or i.get("name") for i in items]


def recorded_creates(record):
    """Connector creates the vendor answered with success, by the credential they carried."""
    counts = {}
    with open(record) as f:
        for line in f:
            r = json.loads(line)
            if (r.get("vendor") == "bigdata" and r["method"] == "POST"
                    and r["path"] == "/contents/v1/connectors" and 200 <= r["status"] < 300):
                who = r.get("credential") or "none"
                counts[who] = counts.get(who, 0) + 1
    return counts


def create(person, url, label, acknowledged, outcomes):
    """One create, never sent twice: a lost answer is looked up before any retry."""
    args = {"type": "email", "label": label,
            "config": {"allowed_emails": [f"{person.name}@example.com"]}}
    for _ in range(5):
        content, is_error = person.call(url, "bigdata_create_connector", args)
        if content is None:
            if label in vendor_labels():
                break
            continue
        if not is_error:
            acknowledged.append(label)
            outcomes["ok"] = outcomes.get("ok", 0) + 1
            return
        code = content.get("error", {}).get("code")
        outcomes[code] = outcomes.get(code, 0) + 1
        return code
    outcomes["lost"] = outcomes.get("lost", 0) + 1


def people(lb, r1, r2, r3, issuer, audience, record, summary_path):
    started = time.time()
    crew = {name: Person(name, issuer, audience) for name in PEOPLE}
    public = origin_of(lb)
    # 1. Each gives their own keys (Bigdata.com, PDC): the links from replica 1, the pages
    # answered on replica 2.
    for name, p in crew.items():
        mine = p.my_credentials(r1)
        for provider in OWN:
            row = next(c for c in mine["credentials"] if c["provider"] == provider)
            if row["own"] or "give" not in row:
                fail(f"{name} before giving: {mine}")
            link = on_replica(row["give"], r2)
            status, html = page_post(link, public, page_form(link), own_key(name, provider))
            if status != 200 or "as your own" not in html:
                fail(f"{name}'s page on replica 2 answered {status}: {html[:300]}")
        mine = p.my_credentials(r3)
        if not all(c["own"] for c in mine["credentials"] if c["provider"] in OWN):
            fail(f"{name} after giving, on replica 3: {mine}")
    # 2. Both write at once through the load balancer.
    writes = int(os.environ.get("TEAMS_WRITES", "15"))
    acknowledged = {name: [] for name in PEOPLE}
    outcomes = {}

    def writer(name):
        for i in range(writes):
            create(crew[name], lb, f"{RUN}-{name}-{i}", acknowledged[name], outcomes)

    threads = [threading.Thread(target=writer, args=(n,)) for n in PEOPLE]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 3. A ${secret:NAME}: asked for on replica 1, typed on replica 2, used on replica 3.
    alice = crew["alice"]
    args = {"type": "investment_research", "label": f"{RUN}-alice-research",
            "config": {"user_id": "alice", "user_password": "${secret:TEAMS_RESEARCH_PASSWORD}"}}
    asked, is_error = alice.call(r1, "bigdata_create_connector", args)
    code = (asked or {}).get("error", {}).get("code")
    link = link_in(json.dumps(asked))
    if not is_error or code != "SECRET_NEEDED" or not link:
        fail(f"the secret was not asked for on replica 1: {asked}")
    link = on_replica(link, r2)
    status, html = page_post(link, public, page_form(link), f"pw-{RUN}-typed-on-replica-2")
    if status != 200:
        fail(f"the secret's page on replica 2 answered {status}: {html[:300]}")
    made, is_error = alice.call(r3, "bigdata_create_connector", args)
    if is_error or made is None:
        fail(f"the call on replica 3 did not use the value typed on replica 2: {made}")
    acknowledged["alice"].append(args["label"])
    # 4. The vendor's view: every label once, each person's writes with their own key.
    labels = vendor_labels()
    mine = [l for l in labels if l and l.startswith(RUN + "-")]
    duplicates = len(mine) - len(set(mine))
    expected = [l for name in PEOPLE for l in acknowledged[name]]
    missing = [l for l in expected if l not in mine]
    by_credential = recorded_creates(record)
    figures = {
        "writes_intended": {n: writes + (1 if n == "alice" else 0) for n in PEOPLE},
        "writes_acknowledged": {n: len(acknowledged[n]) for n in PEOPLE},
        "vendor_creates_by_credential": by_credential,
        "duplicates": duplicates, "missing": len(missing), "outcomes": outcomes,
        "secret": "asked on replica 1, typed on replica 2, used on replica 3",
        "seconds": round(time.time() - started, 1),
    }
    print("teams (people):", json.dumps(figures), flush=True)
    with open(summary_path, "w") as f:
        json.dump(figures, f)
    for name in PEOPLE:
        if len(acknowledged[name]) != figures["writes_intended"][name]:
            fail(f"{name}: {len(acknowledged[name])} writes acknowledged of {figures['writes_intended'][name]}")
        if by_credential.get(name) != len(acknowledged[name]):
            fail(f"{name}'s writes at the vendor with {name}'s key: {by_credential.get(name)}, expected {len(acknowledged[name])}")
    if by_credential.get("none") or duplicates or missing:
        fail(f"creates without a known key {by_credential.get('none')}, duplicates {duplicates}, missing {missing}")


def store(lb, issuer, audience, record, redis_pid, summary_path):
    started = time.time()
    crew = {name: Person(name, issuer, audience) for name in PEOPLE}
    before = recorded_creates(record)
    acknowledged = {name: [] for name in PEOPLE}
    outcomes = {}
    stop_after = int(os.environ.get("TEAMS_STOP_AFTER", "6"))  # acknowledged writes, both
    stopped = []
    after_stop = {"answers": 0}

    def writer(name):
        for i in range(60):
            if stopped and time.time() - stopped[0] > 3:
                return
            code = create(crew[name], lb, f"{RUN}-store-{name}-{i}", acknowledged[name], outcomes)
            if stopped:
                after_stop["answers"] += 1
            if code not in (None, "STORE_UNAVAILABLE"):
                fail(f"{name}: a write answered {code} while the store was going away")
            if not stopped and sum(len(a) for a in acknowledged.values()) >= stop_after:
                stopped.append(time.time())
                os.kill(int(redis_pid), signal.SIGKILL)
                print(f"-- stopped Redis (pid {redis_pid}, SIGKILL) after {stop_after} acknowledged writes", flush=True)

    threads = [threading.Thread(target=writer, args=(n,)) for n in PEOPLE]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    labels = [l for l in vendor_labels() if l and l.startswith(f"{RUN}-store-")]
    expected = [l for name in PEOPLE for l in acknowledged[name]]
    missing = [l for l in expected if l not in labels]
    duplicates = len(labels) - len(set(labels))
    after = recorded_creates(record)
    by_credential = {n: after.get(n, 0) - before.get(n, 0) for n in PEOPLE}
    figures = {
        "acknowledged_before_stop": stop_after,
        "writes_acknowledged": {n: len(acknowledged[n]) for n in PEOPLE},
        "answers": outcomes, "answers_after_stop": after_stop["answers"],
        "vendor_creates_by_credential": by_credential,
        "acknowledged_missing_at_vendor": len(missing), "duplicates": duplicates,
        "seconds": round(time.time() - started, 1),
    }
    print("teams (store stopped):", json.dumps(figures), flush=True)
    with open(summary_path, "w") as f:
        json.dump(figures, f)
    if not stopped:
        fail("Redis was never stopped")
    if not outcomes.get("STORE_UNAVAILABLE"):
        fail(f"no write was refused with STORE_UNAVAILABLE after the stop: {outcomes}")
    if missing or duplicates or outcomes.get("lost"):
        fail(f"acknowledged writes missing {missing}, duplicates {duplicates}, lost {outcomes.get('lost')}")
    for name in PEOPLE:
        if by_credential[name] != len(acknowledged[name]):
            fail(f"{name}: {by_credential[name]} creates at the vendor with their key, {len(acknowledged[name])} acknowledged")


if __name__ == "__main__":
    if sys.argv[1] == "people":
        people(*sys.argv[2:10])
    elif sys.argv[1] == "store":
        store(*sys.argv[2:8])
    else:
        fail(f"unknown phase {sys.argv[1]}")
