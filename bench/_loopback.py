"""A lean HTTP/1.1 keep-alive client for load generators on loopback.

A load generator must cost far less than the server it loads, or the figures measure the generator: on 2 cores
httpx spent about 2 ms of client CPU per request, as much as the server did. This client writes the request
bytes itself and reads `Content-Length` answers (what the API sends); nothing else of HTTP is needed here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson


class LoopbackError(Exception):
    """The connection failed or the answer could not be read (the request counts as failed)."""


class LoopbackPool:
    """Up to `size` keep-alive connections to one server; a request waits here for a free one."""

    def __init__(self, url: str, token: str, size: int, timeout: float = 60.0) -> None:
        host_port = url.split("://", 1)[1].rstrip("/")
        self.host, _, port = host_port.partition(":")
        self.port = int(port or 80)
        self.timeout = timeout
        self._slots = asyncio.Semaphore(size)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._open: set[asyncio.StreamWriter] = set()
        self._fixed = (f"Host: {host_port}\r\nAuthorization: Bearer {token}\r\n").encode()

    async def post(self, path: str, body: Any) -> tuple[int, bytes]:
        return await self.request("POST", path, orjson.dumps(body))

    async def request(self, method: str, path: str, payload: bytes = b"") -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\n".encode()
            + self._fixed
            + (b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload))
        )
        async with self._slots:
            # A kept-alive connection the server closed meanwhile (its idle timeout) fails before any answer:
            # the request is sent again once on a new connection, as HTTP clients do.
            for reused in (True, False):
                if reused and not self._idle:
                    continue
                reader, writer = self._idle.pop() if reused else await self._connect()
                try:
                    writer.write(head + payload)
                    async with asyncio.timeout(self.timeout):
                        status, body, keep = await _read_response(reader)
                except (OSError, EOFError, ValueError, TimeoutError, asyncio.IncompleteReadError) as exc:
                    self._discard(writer)
                    if reused and _closed_before_answer(exc):
                        continue
                    raise LoopbackError(repr(exc)) from exc
                except BaseException:
                    self._discard(writer)  # cancelled mid-answer: the connection's state is unknown
                    raise
                if keep:
                    self._idle.append((reader, writer))
                else:
                    self._discard(writer)
                return status, body
            raise AssertionError("unreachable: the second try always returns or raises")

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            raise LoopbackError(str(exc)) from exc
        self._open.add(writer)
        return reader, writer

    def _discard(self, writer: asyncio.StreamWriter) -> None:
        self._open.discard(writer)
        writer.close()

    async def aclose(self) -> None:
        for writer in list(self._open):
            self._discard(writer)
        self._idle.clear()


def _closed_before_answer(exc: BaseException) -> bool:
    if isinstance(exc, asyncio.IncompleteReadError):
        return not exc.partial
    return isinstance(exc, ConnectionError)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    keep = True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
        elif name == b"transfer-encoding":
            raise ValueError("chunked answers are not read by this client")
    body = await reader.readexactly(length) if length else b""
    return status, body, keep
