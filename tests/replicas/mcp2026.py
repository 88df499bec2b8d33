"""One MCP request of protocol 2026-07-28 over streamable HTTP: the replicas scripts' client.

Standard library only. Each request carries its version in `_meta` and the `Mcp-Method` and
`Mcp-Name` headers the era requires; no session. A fresh connection per request, so a load
balancer may send each one to any replica.
"""

import http.client
import itertools
import json
import urllib.parse

ERA = "2026-07-28"
_ids = itertools.count(1)


def post(url, token, method, params, name=None, extensions=None, extra=None, timeout=30):
    """(HTTP status, the JSON-RPC answer) when it came with 200, (status, its text) otherwise,
    (None, why) when no answer came at all."""
    params = dict(params)
    capabilities = {"extensions": extensions} if extensions else {}
    params["_meta"] = {"io.modelcontextprotocol/protocolVersion": ERA,
                       "io.modelcontextprotocol/clientCapabilities": capabilities}
    headers = {"content-type": "application/json",
               "accept": "application/json, text/event-stream",
               "authorization": f"Bearer {token}",
               "mcp-protocol-version": ERA, "mcp-method": method}
    if name:
        headers["mcp-name"] = name
    headers.update(extra or {})
    body = {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params}
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", u.path, json.dumps(body), headers)
        r = conn.getresponse()
        data = r.read()
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)
    finally:
        conn.close()
    if r.status != 200:
        return r.status, data.decode(errors="replace")
    return 200, json.loads(data)
