"""A zero-latency OpenAI-compatible chat server for the judge benchmark (a real HTTP server in its own
process): every ``POST /v1/chat/completions`` is answered at once with ``VERDICT: EQUIVALENT``.
``GET /stats`` gives the number of requests and how many distinct bodies it saw (to find duplicates).

    python bench/zero_backend.py PORT
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys

REPLY = json.dumps(
    {
        "id": "zero",
        "object": "chat.completion",
        "model": "zero",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "VERDICT: EQUIVALENT"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 4, "total_tokens": 104},
    }
).encode()
seen: dict[str, int] = {}


def response(body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            if lines[0].startswith("GET /stats"):
                stats = {
                    "requests": sum(seen.values()),
                    "distinct": len(seen),
                    "max_repeats": max(seen.values(), default=0),
                }
                writer.write(response(json.dumps(stats).encode()))
            elif lines[0].startswith("POST /reset"):
                seen.clear()
                writer.write(response(b"{}"))
            else:
                key = hashlib.md5(body).hexdigest()
                seen[key] = seen.get(key, 0) + 1
                writer.write(response(REPLY))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
