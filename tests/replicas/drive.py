#!/usr/bin/env python3
"""Drives MCP clients through the load balancer while one replica is killed (run by .ci/replicas).

Standard library only: raw JSON-RPC over streamable HTTP, in both protocol eras:
  - legacy (2025-06-18 and 2025-11-25): `initialize` once, then every request with the
    `MCP-Protocol-Version` header and the `Mcp-Session-Id` the server handed out (a correlation
    id no replica needs state for);
  - modern (2026-07-28): `server/discover`, then every request carrying its version in
    `_meta`, with `Mcp-Method`/`Mcp-Name` headers; no session at all.

Each worker creates Bigdata.com connectors with unique labels (the simulated Bigdata allows
duplicate labels, so a write sent twice shows up as two connectors) and reads between writes.
After a number of writes the driver SIGKILLs one replica. A client never re-sends a write
blindly: when a create's answer is lost (502, reset, timeout) it looks the label up first and
creates again only if it is not there. At the end the vendor's own list is counted: every
label exactly once, or the run fails.

Usage: drive.py LB_URL TOKEN KILL_PID SANDBOX_BIGDATA_URL SANDBOX_BIGDATA_KEY
"""

import http.client
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
import urllib.request

LB, TOKEN, KILL_PID, BIGDATA_URL, BIGDATA_KEY = sys.argv[1:6]
WRITES_PER_WORKER = int(os.environ.get("REPLICAS_WRITES", "40"))
KILL_AFTER = int(os.environ.get("REPLICAS_KILL_AFTER", "45"))  # writes done, all workers
RUN = f"lb-{os.getpid()}"
ERAS = ["2025-06-18", "2025-11-25", "2026-07-28"]
WORKERS = [(era, n) for era in ERAS for n in range(2)]  # two clients per era, six at once

lock = threading.Lock()
stats = {
    "calls": 0,             # MCP requests sent by the clients (answered or not)
    "ok": 0,                # answered with a result
    "lost": 0,              # no usable answer (502/503/504, reset, timeout) -> handled
    "lost_writes": 0,       # of which tools/call creates
    "found_after_loss": 0,  # lost creates found by lookup: done, not re-sent
    "recreated": 0,         # lost creates not found: sent again (safe)
    "failed": 0,            # calls that never succeeded
    "writes_done": 0,
    "during_kill": 0,       # lost answers within 2 s after the kill
}
killed_at = [None]
by_era = {era: 0 for era in ERAS}


def bump(key, n=1):
    with lock:
        stats[key] += n


class Client:
    """One MCP client, with its own keep-alive connection to the load balancer."""

    def __init__(self, era):
        self.era = era
        self.url = urllib.parse.urlparse(LB)
        self.conn = None
        self.session = None
        self.ids = 0

    def _post(self, body, headers):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=15)
        try:
            self.conn.request("POST", self.url.path, json.dumps(body), headers)
            r = self.conn.getresponse()
            data = r.read()
            return r.status, r.getheader("mcp-session-id"), data
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = None
            return None, None, str(e).encode()

    def rpc(self, method, params, name=None):
        """One request; (status, result or None). Counts it."""
        self.ids += 1
        headers = {
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "authorization": f"Bearer {TOKEN}",
            "mcp-protocol-version": self.era,
        }
        params = dict(params)
        if self.era >= "2026":
            params["_meta"] = {
                "io.modelcontextprotocol/protocolVersion": self.era,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            headers["mcp-method"] = method
            if name:
                headers["mcp-name"] = name
        elif self.session:
            headers["mcp-session-id"] = self.session
        body = {"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params}
        status, session, data = self._post(body, headers)
        bump("calls")
        with lock:
            by_era[self.era] += 1
        if status != 200:
            bump("lost")
            with lock:
                if killed_at[0] and time.time() - killed_at[0] < 2:
                    stats["during_kill"] += 1
            return status, None
        if session and not self.session:
            self.session = session
        msg = json.loads(data)
        if "result" not in msg:
            raise SystemExit(f"FAIL: {method} answered {msg}")
        bump("ok")
        return status, msg["result"]

    def start(self):
        if self.era >= "2026":
            _, r = self.retry_read("server/discover", {})
            assert self.era in r["supportedVersions"], r
        else:
            _, r = self.retry_read(
                "initialize",
                {"protocolVersion": self.era, "capabilities": {},
                 "clientInfo": {"name": "replicas-drive", "version": "1"}})
            assert r["protocolVersion"] == self.era, r
            # A notification: no id, 202 with no body.
            status, _, _ = self._post(
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {"content-type": "application/json",
                 "accept": "application/json, text/event-stream",
                 "authorization": f"Bearer {TOKEN}", "mcp-protocol-version": self.era,
                 "mcp-session-id": self.session or ""})
            bump("calls")
            if status != 202:
                raise SystemExit(f"FAIL: notifications/initialized answered {status}")
            bump("ok")

    def retry_read(self, method, params, name=None):
        """A request that changes nothing: sent again until answered (safe)."""
        for _ in range(20):
            status, result = self.rpc(method, params, name)
            if result is not None:
                return status, result
            time.sleep(0.1)
        bump("failed")
        raise SystemExit(f"FAIL: {method} never answered")

    def call(self, tool, args):
        return self.rpc("tools/call", {"name": tool, "arguments": args}, tool)

    def labels(self):
        """Every connector label, through the load balancer (a read)."""
        _, r = self.retry_read(
            "tools/call",
            {"name": "bigdata_list_connectors", "arguments": {"limit": 1000}},
            "bigdata_list_connectors")
        assert not r.get("isError"), r
        return [i["name"] for i in r["structuredContent"]["items"]]

    def create(self, label):
        """Creates one connector, never twice: a lost answer is looked up before any retry."""
        args = {"type": "email", "label": label,
                "config": {"allowed_emails": ["lb@example.com"]}}
        for _ in range(10):
            _, r = self.call("bigdata_create_connector", args)
            if r is not None:
                if r.get("isError"):
                    raise SystemExit(f"FAIL: create {label}: {r['structuredContent']}")
                bump("writes_done")
                return
            bump("lost_writes")
            if label in self.labels():
                bump("found_after_loss")
                bump("writes_done")
                return
            bump("recreated")
        bump("failed")


def maybe_kill():
    with lock:
        due = killed_at[0] is None and stats["writes_done"] >= KILL_AFTER
        if due:
            killed_at[0] = time.time()
    if due:
        os.kill(int(KILL_PID), signal.SIGKILL)
        print(f"-- killed replica pid {KILL_PID} (SIGKILL) after {KILL_AFTER} writes", flush=True)


def worker(era, n, errors):
    try:
        c = Client(era)
        c.start()
        for i in range(WRITES_PER_WORKER):
            c.create(f"{RUN}-{era}-{n}-{i}")
            maybe_kill()
            # A read between writes: tools/list and a get, both eras.
            _, tools = c.retry_read("tools/list", {})
            assert any(t["name"] == "bigdata_create_connector" for t in tools["tools"])
    except BaseException as e:  # noqa: BLE001 - reported below
        errors.append(f"{era}/{n}: {e}")


def vendor_labels():
    """The simulated vendor's own list, asked directly (not through the server)."""
    req = urllib.request.Request(
        f"{BIGDATA_URL}/contents/v1/connectors?limit=10000",
        headers={"X-API-KEY": BIGDATA_KEY, "accept": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = json.load(r)
    items = body.get("results") or body.get("connectors") or body.get("data") or body
    if isinstance(items, dict):
        items = next(v for v in items.values() if isinstance(v, list))
    return [i.get("label") or i.get("name") for i in items]


def main():
    started = time.time()
    errors = []
    threads = [threading.Thread(target=worker, args=(era, n, errors)) for era, n in WORKERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.time() - started
    expected = [f"{RUN}-{era}-{n}-{i}" for era, n in WORKERS for i in range(WRITES_PER_WORKER)]
    labels = [l for l in vendor_labels() if l and l.startswith(RUN + "-")]
    counts = {}
    for l in labels:
        counts[l] = counts.get(l, 0) + 1
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    missing = len([l for l in expected if l not in counts])
    rows = [
        ("MCP requests sent (both eras)", stats["calls"]),
        ("  of which 2025-06-18 / 2025-11-25 / 2026-07-28",
         " / ".join(str(by_era[e]) for e in ERAS)),
        ("answered", stats["ok"]),
        ("lost answers seen by clients (all)", stats["lost"]),
        ("  within 2 s of the kill", stats["during_kill"]),
        ("  lost reads, sent again (safe)", stats["lost"] - stats["lost_writes"]),
        ("  lost creates looked up: found (not re-sent)", stats["found_after_loss"]),
        ("  lost creates looked up: absent (sent again)", stats["recreated"]),
        ("calls that never succeeded", stats["failed"]),
        ("writes intended (unique labels)", len(expected)),
        ("connectors at the vendor with those labels", len(labels)),
        ("duplicates", duplicates),
        ("missing", missing),
        ("replica killed", "yes" if killed_at[0] else "NO"),
        ("seconds", f"{took:.1f}"),
    ]
    width = max(len(r[0]) for r in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    ok = not errors and not duplicates and not missing and not stats["failed"] and killed_at[0]
    for e in errors:
        print(f"FAIL: {e}", file=sys.stderr)
    with open(os.environ.get("REPLICAS_SUMMARY", "/dev/null"), "w") as f:
        json.dump({**stats, "duplicates": duplicates, "missing": missing,
                   "intended": len(expected), "by_era": by_era}, f)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
