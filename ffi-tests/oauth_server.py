#!/usr/bin/env python3
"""A small OAuth 2.1 world on 127.0.0.1 for the C and Go tests of the auth ABI.

It starts three things and prints one line to stdout once they are ready:

    oauth: resource http://127.0.0.1:RS/mcp issuer http://127.0.0.1:AS

- the demo MCP server (``--demo PATH``) over Streamable HTTP, started with
  ``--require-header "Authorization: Bearer T"``: it accepts only the access
  token T that this authorization server issues (T is random per run and never
  printed);
- an authorization server (issuer ``http://127.0.0.1:AS``): RFC 8414 metadata,
  dynamic client registration (RFC 7591), ``/authorize`` (authorization code,
  PKCE S256 required, ``resource`` required, redirects at once: a pre-consented
  user, so a user agent only has to follow one redirect) and ``/token``
  (``authorization_code`` with the PKCE check, ``refresh_token`` with
  rotation);
- the protected resource's front (``http://127.0.0.1:RS``): its Protected
  Resource Metadata (RFC 9728) and ``/mcp``, forwarded as is to the demo server;
  the demo server's 401 gets a ``WWW-Authenticate: Bearer ... resource_metadata``
  challenge added, as a protected resource sends it.

``GET /_stats`` on the authorization server answers what the clients did
(registrations, authorizations, grants by type) as JSON.

It stops (and stops the demo server) on SIGTERM, SIGINT, or when its stdin
reaches end of file (the test that started it is gone). Python 3.8+ stdlib only.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATS = {"registrations": 0, "authorizations": 0, "grants": {}, "refused": 0}
CLIENTS = {}  # client_id -> registered redirect URIs
CODES = {}  # code -> (client_id, redirect_uri, challenge, scope, resource)
REFRESH = {}  # refresh token -> (client_id, scope)
WORLD = {}  # issuer, resource, token, demo (host, port), lifetime


def same_redirect(registered, given):
    """RFC 8252 section 7.3: a loopback redirect URI matches with any port."""
    a, b = urllib.parse.urlsplit(registered), urllib.parse.urlsplit(given)
    if a.hostname in ("127.0.0.1", "[::1]", "::1") and a.scheme == "http":
        return (a.scheme, a.hostname, a.path) == (b.scheme, b.hostname, b.path)
    return registered == given


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mcps-oauth-test/1"

    def log_message(self, fmt, *args):  # quiet unless asked
        if os.environ.get("MCPS_OAUTH_VERBOSE"):
            sys.stderr.write("oauth_server: " + (fmt % args) + "\n")

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, body=b"", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = list(headers) + [("Content-Type", "application/json")]
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class AuthorizationServer(Handler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        issuer = WORLD["issuer"]
        if url.path == "/.well-known/oauth-authorization-server":
            return self.reply(200, {
                "issuer": issuer,
                "authorization_endpoint": issuer + "/authorize",
                "token_endpoint": issuer + "/token",
                "registration_endpoint": issuer + "/register",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
                "scopes_supported": ["mcp:tools", "offline_access"],
                "authorization_response_iss_parameter_supported": True,
            })
        if url.path == "/authorize":
            return self.authorize(dict(urllib.parse.parse_qsl(url.query)))
        if url.path == "/_stats":
            with LOCK:
                return self.reply(200, STATS)
        return self.reply(404, b"not found\n")

    def authorize(self, q):
        client, redirect = q.get("client_id"), q.get("redirect_uri", "")
        with LOCK:
            known = CLIENTS.get(client)
        if known is None or not any(same_redirect(r, redirect) for r in known):
            return self.reply(400, b"unknown client or redirect_uri\n")

        def back(params):
            params = dict(params, state=q.get("state", ""), iss=WORLD["issuer"])
            sep = "&" if "?" in redirect else "?"
            self.reply(302, headers=[("Location", redirect + sep + urllib.parse.urlencode(params))])

        if q.get("response_type") != "code":
            return back({"error": "unsupported_response_type"})
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return back({"error": "invalid_request", "error_description": "PKCE S256 is required"})
        if q.get("resource") != WORLD["resource"]:
            return back({"error": "invalid_target"})
        code = "code-" + secrets.token_urlsafe(12)
        with LOCK:
            STATS["authorizations"] += 1
            CODES[code] = (client, redirect, q["code_challenge"], q.get("scope", ""), q["resource"])
        back({"code": code})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        raw = self.body()
        if url.path == "/register":
            try:
                doc = json.loads(raw)
            except ValueError:
                return self.reply(400, {"error": "invalid_client_metadata"})
            uris = doc.get("redirect_uris") or []
            if not uris:
                return self.reply(400, {"error": "invalid_redirect_uri"})
            client = "client-" + secrets.token_urlsafe(6)
            with LOCK:
                STATS["registrations"] += 1
                CLIENTS[client] = list(uris)
            return self.reply(201, {"client_id": client, "redirect_uris": uris,
                                    "token_endpoint_auth_method": "none",
                                    "grant_types": ["authorization_code", "refresh_token"]})
        if url.path == "/token":
            return self.token(dict(urllib.parse.parse_qsl(raw.decode())))
        return self.reply(404, b"not found\n")

    def token(self, form):
        grant = form.get("grant_type", "")

        def refuse(error, status=400):
            return self.reply(status, {"error": error, "error_description": "refused by the test server"})

        with LOCK:
            STATS["grants"][grant] = STATS["grants"].get(grant, 0) + 1
            if form.get("resource") != WORLD["resource"]:
                return refuse("invalid_target")
            if grant == "authorization_code":
                entry = CODES.pop(form.get("code", ""), None)
                if entry is None:
                    return refuse("invalid_grant")
                client, redirect, challenge, scope, _ = entry
                verifier = form.get("code_verifier", "").encode()
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                if form.get("client_id") != client or form.get("redirect_uri") != redirect or digest != challenge:
                    return refuse("invalid_grant")
            elif grant == "refresh_token":
                entry = REFRESH.pop(form.get("refresh_token", ""), None)
                if entry is None:
                    return refuse("invalid_grant")
                client, scope = entry
            else:
                return refuse("unsupported_grant_type")
            refresh = "refresh-" + secrets.token_urlsafe(12)
            REFRESH[refresh] = (client, scope)
        return self.reply(200, {"access_token": WORLD["token"], "token_type": "Bearer",
                                "expires_in": WORLD["lifetime"], "refresh_token": refresh, "scope": scope},
                          headers=[("Cache-Control", "no-store")])


# Hop-by-hop headers are not forwarded (RFC 9110 section 7.6.1); Host and the length are set anew.
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-connection", "host", "content-length"}


class ProtectedResource(Handler):
    def prm(self):
        return {"resource": WORLD["resource"], "authorization_servers": [WORLD["issuer"]],
                "scopes_supported": ["mcp:tools"], "bearer_methods_supported": ["header"]}

    def forward(self):
        path = urllib.parse.urlsplit(self.path).path
        if self.command == "GET" and path in ("/.well-known/oauth-protected-resource/mcp",
                                              "/.well-known/oauth-protected-resource"):
            return self.reply(200, self.prm())
        if path != "/mcp":
            return self.reply(404, b"not found\n")
        raw = self.body() if self.command in ("POST", "PUT") else None
        host, port = WORLD["demo"]
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(self.command, self.path, body=raw, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            out = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP | {"server", "date"}]
            status = answer.status
        except (OSError, http.client.HTTPException) as e:
            return self.reply(502, ("the demo server failed: %s\n" % e).encode())
        finally:
            conn.close()
        if status == 401 and not any(k.lower() == "www-authenticate" for k, _ in out):
            with LOCK:
                STATS["refused"] += 1
            prm = WORLD["resource"].replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
            out.append(("WWW-Authenticate",
                        'Bearer error="invalid_token", error_description="no valid token", '
                        'resource_metadata="%s"' % prm))
        self.reply(status, data, out)

    do_GET = do_POST = do_DELETE = forward


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that went away mid-request (a cancelled call, a closed store) is no error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def start(handler):
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", required=True, help="the mcpstore-demo-server binary")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="expires_in of access tokens (s)")
    args = parser.parse_args()

    token = secrets.token_urlsafe(24)
    demo = subprocess.Popen(
        [args.demo, "--http", "127.0.0.1:0", "--json", "--require-header", "Authorization: Bearer " + token],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(*_):
        demo.terminate()
        try:
            demo.wait(5)
        except subprocess.TimeoutExpired:
            demo.kill()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    found = None
    for line in demo.stderr:
        m = re.search(rb"listening on http://(127\.0\.0\.1):(\d+)/mcp", line)
        if m:
            found = (m.group(1).decode(), int(m.group(2)))
            break
    if found is None:
        sys.stderr.write("oauth_server: the demo server did not start\n")
        stop()

    def drain():  # the demo server's stderr, so that it never blocks on a full pipe
        for line in demo.stderr:
            if os.environ.get("MCPS_OAUTH_VERBOSE"):
                sys.stderr.write("demo: " + line.decode(errors="replace"))

    threading.Thread(target=drain, daemon=True).start()
    auth = start(AuthorizationServer)
    rs = start(ProtectedResource)
    WORLD.update(issuer="http://127.0.0.1:%d" % auth.server_address[1],
                 resource="http://127.0.0.1:%d/mcp" % rs.server_address[1],
                 token=token, demo=found, lifetime=args.token_lifetime)
    print("oauth: resource %s issuer %s" % (WORLD["resource"], WORLD["issuer"]), flush=True)
    try:
        while sys.stdin.buffer.read(4096):  # until the parent goes away
            pass
    except OSError:
        pass
    stop()


if __name__ == "__main__":
    main()
