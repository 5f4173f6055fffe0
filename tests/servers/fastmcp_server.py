#!/usr/bin/env python3
"""Tiny Python MCP server (FastMCP / MCPServer from the `mcp` package) for mcpstore's tests.

Serves Streamable HTTP at http://127.0.0.1:PORT/mcp, or stdio with --stdio.

Usage: $MCPSTORE_PYTHON tests/servers/fastmcp_server.py [PORT]
       $MCPSTORE_PYTHON tests/servers/fastmcp_server.py --stdio

PORT defaults to 0 (the OS picks a free port). When the server accepts
connections it prints exactly one line to stdout (flushed):

    READY http://127.0.0.1:<port>/mcp

Logs go to stderr. Tools:
    echo(message: str) -> str   returns message unchanged
    add(a: int, b: int) -> int  returns a + b
    slow(ms: int) -> str        sleeps ms milliseconds, returns "slept <ms>ms"
and the resources, prompts and client-request tools of py_features.py.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import uvicorn

try:  # mcp >= 2: FastMCP was renamed MCPServer
    from mcp.server.mcpserver import MCPServer as _Server

    _V2 = True
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as _Server  # type: ignore[no-redef]

    _V2 = False

HOST = "127.0.0.1"

mcp = _Server("mcpstore-test-fastmcp", log_level="WARNING")

sys.path.insert(0, __import__("os").path.dirname(__file__))
import py_features  # noqa: E402

py_features.register(mcp)


@mcp.tool()
def echo(message: str) -> str:
    """Echo the message back unchanged."""
    return message


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
async def slow(ms: int) -> str:
    """Sleep for `ms` milliseconds, then answer."""
    await asyncio.sleep(ms / 1000)
    return f"slept {ms}ms"


async def main(port: int) -> None:
    if _V2:
        app = mcp.streamable_http_app(host=HOST)
    else:
        mcp.settings.host = HOST
        mcp.settings.port = port
        app = mcp.streamable_http_app()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    sock.set_inheritable(True)
    real_port = sock.getsockname()[1]

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    serve = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serve.done():
            await serve  # re-raise the startup error
            raise SystemExit("server stopped before it was ready")
        await asyncio.sleep(0.02)
    print(f"READY http://{HOST}:{real_port}/mcp", flush=True)
    await serve


if __name__ == "__main__":
    try:
        if sys.argv[1:] == ["--stdio"]:
            asyncio.run(mcp.run_stdio_async())
        else:
            asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    except KeyboardInterrupt:
        pass
