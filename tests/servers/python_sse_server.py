#!/usr/bin/env python3
"""Python MCP server (MCPServer / FastMCP from the `mcp` package) over the
legacy HTTP+SSE transport (protocol 2024-11-05), for mcpstore's tests.

The SSE stream is at http://127.0.0.1:PORT/sse; its `endpoint` event names
the POST endpoint (/messages/?session_id=...). POST /sse is refused with 405,
as a legacy-only server does.

Usage: $MCPSTORE_PYTHON tests/servers/python_sse_server.py [PORT]

PORT defaults to 0 (the OS picks a free port). When the server accepts
connections it prints exactly one line to stdout (flushed):

    READY http://127.0.0.1:<port>/sse

With MCPSTORE_RECORD=FILE in the environment, each execution of echo
appends "echo<TAB>message" to FILE (the chaos test counts executions).

Logs go to stderr. Tools:
    echo(message: str) -> str    returns message unchanged
    add(a: int, b: int) -> int   returns a + b
    slow(ms: int) -> str         sleeps ms milliseconds, returns "slept <ms>ms"
    stats() -> dict              slow calls started / finished / cancelled
    http_requests() -> dict      HTTP requests seen, by "METHOD /path"; under
                                 "with x-test" those that carried an X-Test header
and the resources, prompts and client-request tools of py_features.py.
"""

from __future__ import annotations

import asyncio
import collections
import os
import socket
import sys

import uvicorn

try:  # mcp >= 2: FastMCP was renamed MCPServer
    from mcp.server.mcpserver import MCPServer as _Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as _Server  # type: ignore[no-redef]

HOST = "127.0.0.1"

mcp = _Server("mcpstore-test-python-sse", log_level="WARNING")

sys.path.insert(0, __import__("os").path.dirname(__file__))
import py_features  # noqa: E402

py_features.register(mcp)

slow_calls: collections.Counter[str] = collections.Counter()
requests_seen: collections.Counter[str] = collections.Counter()


@mcp.tool()
def echo(message: str) -> str:
    """Echo the message back unchanged."""
    record = os.environ.get("MCPSTORE_RECORD")
    if record:
        line = "echo\t" + message.replace("\t", " ").replace("\n", " ") + "\n"
        fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    return message


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
async def slow(ms: int) -> str:
    """Sleep for `ms` milliseconds, then answer."""
    slow_calls["started"] += 1
    try:
        await asyncio.sleep(ms / 1000)
    except asyncio.CancelledError:
        slow_calls["cancelled"] += 1
        raise
    slow_calls["finished"] += 1
    return f"slept {ms}ms"


@mcp.tool()
def stats() -> dict[str, int]:
    """How many slow calls started, finished and were cancelled."""
    return {k: slow_calls[k] for k in ("started", "finished", "cancelled")}


@mcp.tool()
def http_requests() -> dict[str, int]:
    """The HTTP requests this server received, by method and path."""
    return dict(requests_seen)


def counting(app):
    """Wraps the ASGI app to count requests by method and path (and those with X-Test)."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            requests_seen[f"{scope['method']} {scope['path']}"] += 1
            if any(name == b"x-test" for name, _ in scope["headers"]):
                requests_seen["with x-test"] += 1
        await app(scope, receive, send)

    return wrapped


async def main(port: int) -> None:
    try:
        app = mcp.sse_app(host=HOST)
    except TypeError:  # mcp 1.x takes the host from the settings
        mcp.settings.host = HOST
        app = mcp.sse_app()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    sock.set_inheritable(True)
    real_port = sock.getsockname()[1]

    server = uvicorn.Server(uvicorn.Config(counting(app), log_level="warning", lifespan="on"))
    serve = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serve.done():
            await serve  # re-raise the startup error
            raise SystemExit("server stopped before it was ready")
        await asyncio.sleep(0.02)
    print(f"READY http://{HOST}:{real_port}/sse", flush=True)
    await serve


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    except KeyboardInterrupt:
        pass
