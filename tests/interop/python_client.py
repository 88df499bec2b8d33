"""Interop test: the official MCP Python SDK (PyPI `mcp`) drives datasource-mcp over stdio,
including the secret intake page through its URL-mode elicitation handler.

Usage: python python_client.py path/to/datasource-mcp

For each connection mode of `mcp.Client` ("auto": server/discover first, the 2026-07-28 era;
"legacy": the initialize handshake) it starts `datasource-mcp --sandbox`, then checks exact
facts against the sandbox's seeded state: what the binary's own `--sandbox tools` and
`--sandbox call` print on the same seed (so nothing here is written down twice). Every mismatch
is reported; exit 1 if there is any.
"""

import asyncio
import html
import importlib.metadata
import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request

from mcp import Client, StdioServerParameters
from mcp import types

# What each mode must negotiate, and which handshake result it must leave set.
MODES = {
    "auto": ("2026-07-28", "discover_result"),
    "legacy": ("2025-11-25", "initialize_result"),
}
EXPECTED_PROMPTS = {"onboard_data_source", "audit_data_sources"}


def cli_call(binary, tool, args):
    """What `datasource-mcp --sandbox call` prints for a call on the seeded sandbox."""
    out = subprocess.run(
        [binary, "--sandbox", "call", tool, "--args", json.dumps(args)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def expected_tool_names(binary):
    """The tool names the binary itself prints (`--sandbox tools`), so this test cannot drift."""
    out = subprocess.run(
        [binary, "--sandbox", "tools"], check=True, capture_output=True, text=True
    ).stdout
    lines = [line.split()[0] for line in out.splitlines() if line.strip()]
    if not lines or lines[0] != "TOOL":
        sys.exit(f"unexpected `{binary} --sandbox tools` output:\n{out}")
    return set(lines[1:])


class Checker:
    """Collects mismatches instead of stopping at the first, so one run shows them all."""

    def __init__(self, mode):
        self.mode, self.failures, self.checks, self.version = mode, [], 0, None

    def eq(self, what, got, want):
        self.checks += 1
        if got != want:
            self.failures.append(f"[{self.mode}] {what}:\n    got:  {got!r}\n    want: {want!r}")

    def true(self, what, cond, detail=""):
        self.checks += 1
        if not cond:
            self.failures.append(f"[{self.mode}] {what} {detail}".rstrip())


async def list_bigid_names(client):
    res = await client.call_tool("bigid_list_data_sources", {})
    items = (res.structured_content or {}).get("items", [])
    return res.is_error, [c.get("name") for c in items]


async def run_mode(binary, mode, tool_names, want):
    c = Checker(mode)
    want_version, handshake = MODES[mode]
    params = StdioServerParameters(command=binary, args=["--sandbox"], env={"RUST_LOG": "warn"})
    async with Client(params, mode=mode) as client:
        session = client.session
        c.version = client.protocol_version
        c.eq("negotiated protocol version", client.protocol_version, want_version)
        c.true(f"{handshake} is set", getattr(session, handshake) is not None)
        c.eq("server name", client.server_info and client.server_info.name, "datasource-mcp")

        # tools/list, every page.
        tools, cursor = [], None
        while True:
            page = await client.list_tools(cursor=cursor)
            tools += page.tools
            cursor = page.next_cursor
            if not cursor:
                break
        c.eq("tool count (vs `datasource-mcp --sandbox tools`)", len(tools), len(tool_names))
        c.eq("tool names (vs `datasource-mcp --sandbox tools`)", {t.name for t in tools}, tool_names)

        # A read with a fixed answer.
        res = await client.call_tool("bigid_list_connector_templates", {"detail": "full"})
        c.eq("bigid_list_connector_templates is_error", res.is_error, False)
        c.eq("bigid_list_connector_templates result", res.structured_content, want["templates"])

        # A get of a seeded data source; secrets come back masked.
        res = await client.call_tool("bigid_get_data_source", {"name": "Orders MySQL"})
        c.eq("bigid_get_data_source is_error", res.is_error, False)
        c.eq("bigid_get_data_source result", res.structured_content, want["source"])
        c.eq("bigid_get_data_source password masked",
             (res.structured_content or {}).get("ds_connection", {}).get("password"), "***")

        # A dry-run write returns the planned request and changes nothing.
        is_error, before = await list_bigid_names(client)
        c.eq("bigid_list_data_sources is_error", is_error, False)
        c.eq("seeded BigID data sources", before, want["names"])
        res = await client.call_tool("bigid_create_data_source", {"dry_run": True, "ds_connection": {
            "name": "Interop Test", "type": "rdb-mysql", "rdb_url": "db.example:3306",
            "username": "u", "password": "p"}})
        c.eq("dry run is_error", res.is_error, False)
        sc = res.structured_content or {}
        reqs = sc.get("requests") or [{}]
        # A create's dry run changes nothing; it reads the vendor's list (look-alikes) and the
        # type's template (missing fields), and says so.
        c.eq("dry run flags", (sc.get("dry_run"), sc.get("note"), len(reqs)),
             (True, "Nothing was changed. Read from the vendor to check: its data sources "
                    "(look-alikes) and the type's template (fields it needs).", 1))
        c.eq("dry run method", reqs[0].get("method"), "POST")
        # The sandbox listens on a random port: check the path only.
        url = reqs[0].get("url", "")
        c.true("dry run url ends with /bigid/api/v1/ds_connections",
               url.startswith("http://127.0.0.1:") and url.endswith("/bigid/api/v1/ds_connections"),
               f"(got {url!r})")
        c.eq("dry run body (password masked)", reqs[0].get("body"), {"ds_connection": {
            "name": "Interop Test", "password": "***", "rdb_url": "db.example:3306",
            "type": "rdb-mysql", "username": "u"}})
        c.eq("dry run shows method, URL and body, no headers", "headers" in reqs[0], False)
        _, after = await list_bigid_names(client)
        c.eq("BigID data sources after the dry run", after, want["names"])

        # Invalid argument: an error result whose structured content names the field.
        res = await client.call_tool("bigid_list_data_sources", {"limit": 0})
        c.eq("invalid argument is_error", res.is_error, True)
        err = (res.structured_content or {}).get("error", {})
        c.eq("invalid argument error", (err.get("code"), err.get("field"), err.get("message")),
             ("INVALID_ARGUMENT", "limit", "`limit`: must be between 1 and 10000"))

        prompts = await client.list_prompts()
        names = {p.name for p in prompts.prompts}
        c.true("prompts/list includes onboard_data_source and audit_data_sources",
               EXPECTED_PROMPTS <= names, f"(got {sorted(names)})")
    return c, len(tools), len(names)


def enter_on_page(url, value):
    """What the user does with the link the client opened: reads the page's form token and
    sends the value from the page's own origin. Returns the page's answer status."""
    with urllib.request.urlopen(url, timeout=10) as page:
        body = page.read().decode()
    token = html.unescape(re.search(r'name="form_token" value="([^"]+)"', body).group(1))
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url))
    form = urllib.parse.urlencode({"form_token": token, "value": value}).encode()
    req = urllib.request.Request(url, data=form, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Origin": origin})
    with urllib.request.urlopen(req, timeout=10) as answer:
        return answer.status


async def onboard_with_the_page(binary, mode):
    """The sandbox onboarding with the password unset: the SDK's elicitation handler is sent to
    the intake page (URL mode), "opens" it and enters the value; the call goes on without the
    value passing through the client. Returns (checker, elicitations seen)."""
    c = Checker(f"{mode}, secret intake")
    secret, value = f"INTEROP_DB_{mode.upper()}", f"interop-pw-{mode}-S3NT1NEL"
    seen = []

    async def on_elicit(ctx, params):
        seen.append(params)
        if not isinstance(params, types.ElicitRequestURLParams):
            return types.ElicitResult(action="decline")
        status = await asyncio.to_thread(enter_on_page, params.url, value)
        c.eq("the page took the value", status, 200)
        return types.ElicitResult(action="accept")

    params = StdioServerParameters(command=binary, args=["--sandbox"], env={"RUST_LOG": "warn"})
    source = {"name": f"Interop {mode}", "type": "rdb-mysql", "rdb_url": "orders-db.prod.example:3306",
              "username": "bigid_scan", "password": "${secret:%s}" % secret}
    async with Client(params, mode=mode, elicitation_callback=on_elicit) as client:
        c.eq("negotiated protocol version", client.protocol_version, MODES[mode][0])
        test = await client.call_tool("bigid_test_data_source_connection", {"ds_connection": source})
        c.eq("connection test", (test.is_error, (test.structured_content or {}).get("success")),
             (False, True))
        created = await client.call_tool("bigid_create_data_source", {"ds_connection": source})
        sc = created.structured_content or {}
        c.eq("create", (created.is_error, sc.get("statusCode")), (False, 200))
        c.eq("stored password masked", sc.get("data", {}).get("ds_connection", {}).get("password"), "***")
        stored = await client.call_tool("bigid_test_stored_data_source", {"name": source["name"]})
        c.eq("stored source tests green", (stored.structured_content or {}).get("success"), True)
        for what, res in [("test", test), ("create", created), ("stored test", stored)]:
            c.true(f"the value is in no {what} result", value not in res.model_dump_json())
    c.eq("elicitations (asked once, in URL mode)",
         [type(p).__name__ for p in seen], ["ElicitRequestURLParams"])
    return c, len(seen)


def leaves(e):
    """The innermost exceptions of (possibly nested) exception groups."""
    subs = getattr(e, "exceptions", None)
    return [leaf for sub in subs for leaf in leaves(sub)] if subs else [e]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: python_client.py path/to/datasource-mcp")
    binary = sys.argv[1]
    sdk = importlib.metadata.version("mcp")
    tool_names = expected_tool_names(binary)
    want = {
        "templates": cli_call(binary, "bigid_list_connector_templates", {"detail": "full"}),
        "source": cli_call(binary, "bigid_get_data_source", {"name": "Orders MySQL"}),
        "names": [i["name"] for i in cli_call(binary, "bigid_list_data_sources", {})["items"]],
    }
    failed = False
    for mode in MODES:
        try:
            c, ntools, nprompts = asyncio.run(run_mode(binary, mode, tool_names, want))
        except Exception as e:  # a transport or protocol failure, often inside an ExceptionGroup
            for leaf in leaves(e):
                print(f"FAIL python-sdk mcp {sdk}, mode {mode}: {type(leaf).__name__}: {leaf}",
                      file=sys.stderr)
            failed = True
            continue
        for f in c.failures:
            print(f"FAIL {f}", file=sys.stderr)
        failed |= bool(c.failures)
        status = "FAILED" if c.failures else "ok"
        print(f"python-sdk mcp {sdk}, mode {mode}: protocol {c.version}, {ntools} tools, "
              f"{nprompts} prompts, {c.checks} checks, {len(c.failures)} failed: {status}")
        try:
            c, asked = asyncio.run(onboard_with_the_page(binary, mode))
        except Exception as e:
            for leaf in leaves(e):
                print(f"FAIL python-sdk mcp {sdk}, mode {mode}, secret intake: "
                      f"{type(leaf).__name__}: {leaf}", file=sys.stderr)
            failed = True
            continue
        for f in c.failures:
            print(f"FAIL {f}", file=sys.stderr)
        failed |= bool(c.failures)
        status = "FAILED" if c.failures else "ok"
        print(f"python-sdk mcp {sdk}, mode {mode}: sandbox onboarding through the intake page, "
              f"{asked} URL elicitation, {c.checks} checks, {len(c.failures)} failed: {status}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
