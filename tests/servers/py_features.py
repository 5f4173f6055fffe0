"""Resources, prompts, completions and client requests for mcpstore's Python test servers.

`register(mcp)` adds to an MCPServer (FastMCP) instance:
    resources  text://greeting (text), blob://pixel (binary, image/png),
               template items://{item_id} (text "item <id>")
    prompts    greet(name, style="plain")
    completion the `style` argument of greet: plain, formal, pirate
    tools      ask_model(question) -> the client's sampling answer (text)
               ask_user(question)  -> "<action> name=<name> age=<age>" from an elicitation
               add_tool_silently(name) -> "added"; adds tool <name> with no notification
               add_tool_later(name, delay_ms) -> "scheduled"; after the delay, with no request
                   running, adds tool <name> (answers "<name> here") and sends
                   notifications/tools/list_changed (over HTTP: on the listening stream)
"""

from __future__ import annotations

import asyncio
import base64

from pydantic import BaseModel, Field

from typing import Annotated

from mcp import types
from mcp.server.mcpserver import Context, Elicit, ElicitationResult, Resolve, Sample

PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
STYLES = ["plain", "formal", "pirate"]
_background: set = set()


class Person(BaseModel):
    name: str = Field(description="Your name")
    age: int = Field(default=30, description="Your age", ge=0, le=150)


# Resolvers ask the client in either era: a server-to-client request mid-call
# (2025-11-25), or an input_required result answered on the retry (2026-07-28).
def model_question(question: str) -> Sample:
    message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=question))
    return Sample([message], max_tokens=50)

def person_question(question: str) -> Elicit[Person]:
    return Elicit(question, Person)


def register(mcp) -> None:
    @mcp.resource("text://greeting", mime_type="text/plain")
    def greeting() -> str:
        """A friendly text."""
        return "hello from python"

    @mcp.resource("blob://pixel", mime_type="image/png")
    def pixel() -> bytes:
        """A 1x1 PNG."""
        return PIXEL

    @mcp.resource("items://{item_id}", mime_type="text/plain")
    def item(item_id: str) -> str:
        """An item by id."""
        return f"item {item_id}"

    @mcp.prompt()
    def greet(name: str, style: str = "plain") -> str:
        """Greets someone."""
        return f"Write a {style} greeting for {name}."

    @mcp.completion()
    async def complete(ref, argument, context):
        if isinstance(ref, types.PromptReference) and ref.name == "greet" and argument.name == "style":
            values = [s for s in STYLES if s.startswith(argument.value)]
            return types.Completion(values=values, total=len(values), has_more=False)
        return None

    @mcp.tool()
    async def ask_model(
        question: str, answer: Annotated[types.CreateMessageResult, Resolve(model_question)]
    ) -> str:
        """Asks the client's model."""
        content = answer.content
        return content.text if isinstance(content, types.TextContent) else str(content)

    @mcp.tool()
    async def ask_user(
        question: str, person: Annotated[ElicitationResult[Person], Resolve(person_question)]
    ) -> str:
        """Asks the user for their name and age."""
        if person.action == "accept":
            return f"accept name={person.data.name} age={person.data.age}"
        return person.action

    @mcp.tool()
    def add_tool_silently(name: str) -> str:
        """Adds a tool and tells nobody: only a client that lists again finds it."""
        mcp.add_tool(lambda: f"{name} here", name=name, description="added silently")
        return "added"

    @mcp.tool()
    async def add_tool_later(name: str, delay_ms: int, ctx: Context) -> str:
        """Adds a tool after a delay and tells the client, outside any request."""
        session = ctx.request_context.session
        publish = ctx.notify_tools_changed  # 2026-07-28: the subscriptions/listen bus

        async def later() -> None:
            await asyncio.sleep(delay_ms / 1000)
            mcp.add_tool(lambda: f"{name} here", name=name, description="added later")
            try:
                await publish()
            except ValueError:  # a 2025-11-25 session has no bus: notify on the session
                await session.send_tool_list_changed()

        task = asyncio.get_running_loop().create_task(later())
        _background.add(task)
        task.add_done_callback(_background.discard)
        return "scheduled"
