"""A tiny HTTP/1.1 server on loopback for the image tests: each path answers as a test says, and
every request and every byte of body it sends is counted, so a test can show a request was
never made, or a body never read to its end."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from deploy.fakes.shared import TINY_JPEG

PIECE = 64 * 1024


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    then_bytes: int = 0
    """After `body`, this many more bytes, written a piece at a time while the client reads."""
    declare_length: bool = True
    """False: no Content-Length, the body ends when the connection closes."""
    piece: int = PIECE
    drip_s: float = 0.0
    """A pause before each piece of `then_bytes`."""


def jpeg(**changes: object) -> Answer:
    fields: dict[str, object] = {"headers": {"Content-Type": "image/jpeg"}, "body": TINY_JPEG}
    return Answer(**{**fields, **changes})  # type: ignore[arg-type]


def redirect(location: str, status: int = 302) -> Answer:
    return Answer(status=status, headers={"Location": location})


@dataclass
class Request:
    path: str
    host: str


class TinyServer:
    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.requests: list[Request] = []
        self.body_bytes_sent = 0
        self.port = 0
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            _, target, _ = head[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
            self.requests.append(Request(target, headers.get("host", "")))
            answer = self.answers.get(target.partition("?")[0], Answer(status=404, body=b"not here"))
            lines = [f"HTTP/1.1 {answer.status} X", "Connection: close"]
            lines += [f"{k}: {v}" for k, v in answer.headers.items()]
            if answer.declare_length:
                lines.append(f"Content-Length: {len(answer.body) + answer.then_bytes}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer.body)
            self.body_bytes_sent += len(answer.body)
            left = answer.then_bytes
            while left > 0:
                if answer.drip_s:
                    await asyncio.sleep(answer.drip_s)
                piece = min(answer.piece, left)
                writer.write(b"\0" * piece)
                await writer.drain()
                self.body_bytes_sent += piece
                left -= piece
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up, as a client refusing a body does
        finally:
            writer.close()
            self._handlers.discard(task)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["TinyServer"]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for task in list(self._handlers):
                task.cancel()
            await server.wait_closed()
