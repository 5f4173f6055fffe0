-- wrk script: MCP `tools/call echo` POSTs on a session that run.sh initialized
-- with curl. Each request gets its own JSON-RPC id: a session's in-flight ids
-- must be unique, and servers route replies by id.
local session = os.getenv("MCP_SESSION_ID")
local version = os.getenv("MCP_PROTOCOL_VERSION") or "2025-11-25"
local headers = {
  ["Content-Type"] = "application/json",
  ["Accept"] = "application/json, text/event-stream",
  ["Mcp-Session-Id"] = session,
  ["MCP-Protocol-Version"] = version,
}
local id = 0

request = function()
  id = id + 1
  local body = '{"jsonrpc":"2.0","id":' .. id
    .. ',"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}'
  return wrk.format("POST", nil, headers, body)
end
