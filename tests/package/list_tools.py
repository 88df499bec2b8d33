#!/usr/bin/env python3
"""A minimal MCP client over stdio, raw JSON-RPC and nothing else: starts
`COMMAND [ARGS...] --sandbox` the way a client's config does, sends initialize,
notifications/initialized and tools/list (following nextCursor), and checks the answer against
what `COMMAND [ARGS...] --sandbox tools` prints.

  list_tools.py --version X.Y.Z -- COMMAND [ARGS...]     e.g. -- npx -y datasource-mcp

COMMAND is looked up on PATH (the point is to run what a package installed). The server must
name itself datasource-mcp X.Y.Z in serverInfo and list exactly the tools `tools` lists.
Exit 0 and one summary line, or exit 1 with the reason."""
import argparse
import json
import queue
import shutil
import subprocess
import sys
import threading

PROTOCOL = "2025-11-25"
TIMEOUT = 30


def main():
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        sys.exit(__doc__)
    parser = argparse.ArgumentParser()
    parser.add_argument("--version", required=True)
    args = parser.parse_args(argv[:argv.index("--")])
    command = argv[argv.index("--") + 1:]
    exe = shutil.which(command[0])
    if not exe:
        sys.exit(f"FAIL: {command[0]} is not on PATH")

    shown = " ".join(command)
    listed = subprocess.run([exe, *command[1:], "--sandbox", "tools"], capture_output=True, text=True,
                            timeout=TIMEOUT)
    if listed.returncode != 0:
        sys.exit(f"FAIL: {shown} --sandbox tools exited {listed.returncode}: {listed.stderr}")
    expected = [line.split()[0] for line in listed.stdout.splitlines()[1:] if line.strip()]

    server = subprocess.Popen([exe, *command[1:], "--sandbox"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, bufsize=1)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in server.stdout] and lines.put(None),
                     daemon=True).start()
    stderr = []
    threading.Thread(target=lambda: stderr.extend(server.stderr), daemon=True).start()

    def send(message):
        server.stdin.write(json.dumps(message) + "\n")
        server.stdin.flush()

    def request(id, method, params):
        send({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        while True:
            try:
                line = lines.get(timeout=TIMEOUT)
            except queue.Empty:
                sys.exit(f"FAIL: no answer to {method} in {TIMEOUT} s; stderr: {''.join(stderr)}")
            if line is None:
                sys.exit(f"FAIL: the server closed stdout before answering {method}; stderr: {''.join(stderr)}")
            message = json.loads(line)  # stdout carries JSON-RPC only
            if message.get("id") == id:
                if "error" in message:
                    sys.exit(f"FAIL: {method}: {message['error']}")
                return message["result"]

    try:
        init = request(1, "initialize", {
            "protocolVersion": PROTOCOL, "capabilities": {},
            "clientInfo": {"name": "package-check", "version": "1"}})
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        info = init["serverInfo"]
        if (info["name"], info["version"]) != ("datasource-mcp", args.version):
            sys.exit(f"FAIL: serverInfo is {info}, want datasource-mcp {args.version}")
        tools, cursor, id = [], None, 2
        while True:
            result = request(id, "tools/list", {"cursor": cursor} if cursor else {})
            tools += [t["name"] for t in result["tools"]]
            cursor, id = result.get("nextCursor"), id + 1
            if not cursor:
                break
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
    if not expected or sorted(tools) != sorted(expected):
        sys.exit(f"FAIL: tools/list gave {len(tools)} tools, `tools` lists {len(expected)}: "
                 f"{sorted(set(tools) ^ set(expected))}")
    if server.returncode != 0:
        sys.exit(f"FAIL: the server exited {server.returncode} at the end of stdin")
    print(f"ok: {shown} --sandbox ({exe}): serverInfo datasource-mcp {args.version}, "
          f"tools/list = `tools` = {len(tools)} tools")


if __name__ == "__main__":
    main()
