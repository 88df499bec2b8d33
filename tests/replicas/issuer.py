#!/usr/bin/env python3
"""A test OAuth issuer for the replicas run (.ci/replicas), standard library only.

It signs RS256 access tokens with the committed test key tests/fixtures/oauth/rsa-test-key.pem
(trusted by nothing but tests) and serves what a resource server needs to check them: RFC 8414
metadata (and the same at the OpenID discovery path) naming its JWKS. There is no authorization
or token endpoint: tokens are minted directly, by the `token` command or `mint()`.

Usage:
  issuer.py serve PORT
      serves http://127.0.0.1:PORT until killed:
      /.well-known/oauth-authorization-server, /.well-known/openid-configuration, /jwks
  issuer.py token ISSUER_URL AUDIENCE SUBJECT SCOPES [TTL_SECONDS]
      prints a signed access token (SCOPES space-separated; TTL 3600 s by default)
Importable: `from issuer import mint`.
"""

import base64
import hashlib
import http.server
import json
import os
import secrets
import sys
import time

KEY_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "fixtures", "oauth", "rsa-test-key.pem")
KID = "replicas"
# DER of DigestInfo{AlgorithmIdentifier{sha256, NULL}, OCTET STRING(32)}: what PKCS#1 v1.5
# (RFC 8017 §9.2, note 1) puts before the SHA-256 hash.
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_bytes(value, length=None):
    return value.to_bytes(length or (value.bit_length() + 7) // 8 or 1, "big")


def der_read(data, at):
    """One DER element at `at`: (tag, value bytes, offset after it)."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:  # long form: the low bits say how many length bytes follow
        count = length & 0x7F
        length = int.from_bytes(data[at:at + count], "big")
        at += count
    return tag, data[at:at + length], at + length


def load_key(path=KEY_PATH):
    """(n, e, d) of a PEM "RSA PRIVATE KEY" (PKCS#1 RSAPrivateKey, RFC 8017 A.1.2)."""
    with open(path) as f:
        body = "".join(l for l in f.read().splitlines() if l and not l.startswith("-----"))
    tag, seq, _ = der_read(base64.b64decode(body), 0)
    assert tag == 0x30, "not a DER SEQUENCE"
    # version, n, e, d, then p, q and the CRT values (not needed: pow with d is fast enough).
    ints, at = [], 0
    while len(ints) < 4:
        tag, value, at = der_read(seq, at)
        assert tag == 0x02, "not an INTEGER"
        ints.append(int.from_bytes(value, "big"))
    version, n, e, d = ints
    assert version == 0, "two-prime RSA keys only"
    return n, e, d


N, E, D = load_key()
K = (N.bit_length() + 7) // 8  # the modulus length in bytes


def sign(message):
    """RSASSA-PKCS1-v1_5 with SHA-256 (RS256): EM = 00 01 FF.. 00 || DigestInfo || hash."""
    t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    em = b"\x00\x01" + b"\xff" * (K - 3 - len(t)) + b"\x00" + t
    m = int.from_bytes(em, "big")
    s = pow(m, D, N)
    assert pow(s, E, N) == m, "the key does not verify its own signature"
    return int_bytes(s, K)


def mint(issuer, audience, subject, scopes, ttl=3600):
    """A signed access token for `subject` with `scopes` (a space-separated string)."""
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": KID}
    claims = {"iss": issuer, "aud": audience, "sub": subject, "scope": scopes,
              "iat": now, "nbf": now, "exp": now + int(ttl), "jti": secrets.token_hex(16)}
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    return signing_input + "." + b64url(sign(signing_input.encode()))


def jwks():
    return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
                      "n": b64url(int_bytes(N)), "e": b64url(int_bytes(E))}]}


def serve(port):
    issuer = f"http://127.0.0.1:{port}"
    # The server checks that the metadata names exactly the issuer it was configured with.
    metadata = {"issuer": issuer, "jwks_uri": f"{issuer}/jwks",
                "scopes_supported": ["datasource:read", "datasource:write"],
                "id_token_signing_alg_values_supported": ["RS256"]}
    documents = {
        "/.well-known/oauth-authorization-server": metadata,
        "/.well-known/openid-configuration": metadata,
        "/jwks": jwks(),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            doc = documents.get(self.path.split("?")[0])
            body = json.dumps(doc if doc is not None else {"error": "not_found"}).encode()
            self.send_response(200 if doc is not None else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    print(f"issuer {issuer} (kid {KID})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif len(sys.argv) in (6, 7) and sys.argv[1] == "token":
        print(mint(*sys.argv[2:6], *(int(a) for a in sys.argv[6:7])))
    else:
        sys.exit(__doc__)
