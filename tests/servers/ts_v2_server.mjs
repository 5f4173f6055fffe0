// An MCP server on the TypeScript SDK v2 (@modelcontextprotocol/server 2.4.0) for mcpstore's
// interop tests in both protocol eras: the SDK answers a 2026-07-28 client (server/discover,
// per-request _meta, MRTR) and a 2025-11-25 client (initialize) from the same entry points.
//
//   node ts_v2_server.mjs --stdio
//   node ts_v2_server.mjs --http PORT     # PORT 0: any free port; prints READY http://127.0.0.1:PORT/mcp
//
// scripts/install-test-deps.sh copies this file next to its node_modules
// (target/test-deps/npm-ts-v2/), where its imports resolve.
//
// What it offers (the names of tests/servers/rmcp-server):
//   tools      echo {message}, add {a, b}, slow {ms}, region_headers {region} (region is
//              x-mcp-header "Region"; answers {region, headers: the Mcp-* headers it received
//              over HTTP, null over stdio}), confirm_action
//              {action} (asks the client to confirm: MRTR input_required on 2026-07-28)
//   resources  test://static/text (text), test://static/blob (blob), template test://items/{id}
//   prompts    greet {name, style?} (style completes to plain/formal/pirate), plain {}
import http from 'node:http';
import {
    McpServer,
    ResourceTemplate,
    acceptedContent,
    completable,
    createMcpHandler,
    inputRequired,
} from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { toNodeHandler } from '@modelcontextprotocol/node';
import * as z from 'zod/v4';

const STYLES = ['plain', 'formal', 'pirate'];
const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';
const text = (t) => ({ content: [{ type: 'text', text: t }] });

function factory(headersOf) {
    const server = new McpServer({ name: 'mcpstore-test-ts-v2', version: '1.0.0' });
    server.registerTool('echo', { description: 'Echoes the message', inputSchema: z.object({ message: z.string() }) },
        async ({ message }) => text(message));
    server.registerTool('add', { description: 'Adds two numbers', inputSchema: z.object({ a: z.number(), b: z.number() }) },
        async ({ a, b }) => text(String(a + b)));
    server.registerTool('slow', { description: 'Sleeps ms milliseconds', inputSchema: z.object({ ms: z.number() }) },
        async ({ ms }) => {
            await new Promise((r) => setTimeout(r, ms));
            return text(`slept ${ms}ms`);
        });
    server.registerTool('region_headers', {
        description: 'Reports the Mcp-* headers of its request',
        inputSchema: z.object({ region: z.string().meta({ 'x-mcp-header': 'Region' }) }),
    }, async ({ region }) => {
        const h = headersOf();
        const get = (name) => (h ? h[name] ?? null : null);
        const headers = h && {
            'mcp-method': get('mcp-method'), 'mcp-name': get('mcp-name'),
            'mcp-param-region': get('mcp-param-region'), 'mcp-protocol-version': get('mcp-protocol-version'),
        };
        return text(JSON.stringify({ region, headers: headers ?? null }));
    });
    const confirmSchema = z.object({ confirm: z.boolean() });
    server.registerTool('confirm_action', {
        description: 'Asks the user to confirm the action',
        inputSchema: z.object({ action: z.string() }),
    }, async ({ action }, ctx) => {
        const answer = acceptedContent(ctx.mcpReq?.inputResponses, 'confirm', confirmSchema);
        if (answer === undefined) {
            return inputRequired({
                inputRequests: { confirm: inputRequired.elicit({ message: `Do ${action}?`, requestedSchema: confirmSchema }) },
            });
        }
        return text(answer.confirm ? `confirmed ${action}` : `refused ${action}`);
    });

    server.registerResource('greeting', 'test://static/text', { mimeType: 'text/plain' },
        async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'hello from ts v2' }] }));
    server.registerResource('pixel', 'test://static/blob', { mimeType: 'image/png' },
        async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'image/png', blob: PIXEL }] }));
    server.registerResource('item', new ResourceTemplate('test://items/{id}', {
        list: undefined,
        complete: { id: (value) => ['1', '2', '42'].filter((id) => id.startsWith(value)) },
    }), { mimeType: 'text/plain' }, async (uri, { id }) => ({ contents: [{ uri: uri.href, text: `item ${id}` }] }));

    server.registerPrompt('greet', {
        description: 'Greets someone',
        argsSchema: z.object({
            name: z.string(),
            style: completable(z.string(), (value) => STYLES.filter((s) => s.startsWith(value ?? ''))).optional(),
        }),
    }, async ({ name, style }) => ({
        messages: [{ role: 'user', content: { type: 'text', text: `Greet ${name} in a ${style ?? 'plain'} style` } }],
    }));
    server.registerPrompt('plain', { description: 'A prompt without arguments' },
        async () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'plain prompt' } }] }));
    return server;
}

const args = process.argv.slice(2);
if (args[0] === '--stdio') {
    serveStdio(() => factory(() => null));
    process.stderr.write('READY stdio\n');
} else if (args[0] === '--http') {
    // The headers of the request being served, for region_headers (one request at a time per factory call).
    let current = null;
    const handler = createMcpHandler(() => factory(() => current));
    const node = toNodeHandler(handler);
    const httpServer = http.createServer((req, res) => {
        current = req.headers;
        node(req, res);
    });
    httpServer.listen(Number(args[1] ?? 0), '127.0.0.1', () => {
        process.stdout.write(`READY http://127.0.0.1:${httpServer.address().port}/mcp\n`);
    });
} else {
    process.stderr.write('usage: ts_v2_server.mjs --stdio | --http PORT\n');
    process.exit(2);
}
