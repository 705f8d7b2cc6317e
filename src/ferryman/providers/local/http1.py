"""Just enough HTTP/1.1 for a reverse proxy: message heads, body framing, relaying.

The router reads heads with ``StreamReader.readuntil`` and parses them here;
bodies are relayed by their framing (``Content-Length``, chunked, or until the
connection closes) without being decoded::

    head = parse_request(await reader.readuntil(b"\\r\\n\\r\\n"))
    head.header("host")  # case-insensitive, first value
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
MAX_HEAD = 64 * 1024
CHUNK = 64 * 1024


class BadMessage(ValueError):
    """A message that is not HTTP/1.x this proxy can relay."""


class AnyCase(dict[str, str]):
    """Header values by lower-cased name; ``get`` takes a name in any case (for route rules)."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return dict.get(self, key.lower(), default)


@dataclass
class Head:
    """A request's or a response's start line and headers.

    Attributes:
        first: The start line's three parts (``GET``, ``/x``, ``HTTP/1.1`` or
            ``HTTP/1.1``, ``200``, ``OK``).
        lookup: Header values by lower-cased name (first value wins).
        raw: The head as received, final empty line included.
        plain: Whether it has no hop-by-hop header, so it can be passed on as received.
    """

    first: tuple[str, str, str]
    lookup: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""
    plain: bool = False

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header as sent, in order."""
        pairs = []
        for line in self.raw.decode("latin-1").split("\r\n")[1:]:
            if line:
                name, _, value = line.partition(":")
                pairs.append((name, value.strip()))
        return pairs

    def header(self, name: str) -> str | None:
        """The first value of a header (``name`` lower-case)."""
        return self.lookup.get(name)

    def connection_tokens(self) -> set[str]:
        """The lower-cased tokens of the ``Connection`` header."""
        value = self.lookup.get("connection")
        return {t.strip().lower() for t in value.split(",")} if value else set()

    def keep_alive(self, version: str) -> bool:
        """Whether the connection stays open after this message."""
        tokens = self.connection_tokens()
        if version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens

    def forwardable(self) -> list[tuple[str, str]]:
        """The end-to-end headers: hop-by-hop ones and those ``Connection`` names dropped."""
        named = self.connection_tokens()
        return [
            (n, v)
            for n, v in self.headers
            if (low := n.lower()) not in HOP_BY_HOP and low not in named
        ]

    def length(self) -> int | None:
        """The ``Content-Length``, if given.

        Raises:
            BadMessage: It is not a non-negative integer.
        """
        value = self.lookup.get("content-length")
        if value is None:
            return None
        if not value.isdigit():
            raise BadMessage(f"bad Content-Length {value!r}")
        return int(value)

    def chunked(self) -> bool:
        """Whether the body is chunked."""
        value = self.lookup.get("transfer-encoding")
        return value is not None and value.lower().rstrip().endswith("chunked")


def _parse(data: bytes) -> Head:
    lines = data.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2:
        raise BadMessage(f"bad start line {lines[0][:80]!r}")
    first = (parts[0], parts[1], parts[2] if len(parts) > 2 else "")
    lookup: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name[-1] in " \t" or name[0] in " \t":
            raise BadMessage(f"bad header line {line[:80]!r}")
        lowered = name.lower()
        if lowered not in lookup:
            lookup[lowered] = value.strip()
    plain = HOP_BY_HOP.isdisjoint(lookup)
    return Head(first, lookup, data, plain)


def parse_request(data: bytes) -> Head:
    """Parse a request head (start line and headers, ending with an empty line).

    Raises:
        BadMessage: It is not an HTTP/1.x request.
    """
    head = _parse(data)
    if not head.first[2].startswith("HTTP/1."):
        raise BadMessage(f"not an HTTP/1.x request: {head.first[2][:20]!r}")
    return head


_HOP_MARKS = tuple(f"\r\n{name}:".encode() for name in HOP_BY_HOP)


def parse_response(data: bytes) -> Head:
    """Parse a response head.

    A head without hop-by-hop headers (the usual answer of a keep-alive server)
    is only looked at for its status and ``Content-Length``.

    Raises:
        BadMessage: It is not an HTTP/1.x response.
    """
    low = data.lower()
    if data.startswith(b"HTTP/1.1 ") and not any(mark in low for mark in _HOP_MARKS):
        start = low.find(b"\r\ncontent-length:")
        lookup: dict[str, str] = {}
        if start >= 0:
            end = low.index(b"\r\n", start + 2)
            lookup["content-length"] = data[start + 17 : end].decode("latin-1").strip()
        line = data[: data.index(b"\r\n")].decode("latin-1").split(" ", 2)
        if len(line) >= 2 and line[1].isdigit():
            return Head((line[0], line[1], line[2] if len(line) > 2 else ""), lookup, data, True)
    head = _parse(data)
    if not head.first[0].startswith("HTTP/1.") or not head.first[1].isdigit():
        raise BadMessage(f"bad status line {' '.join(head.first)[:80]!r}")
    return head


def render(first: str, headers: list[tuple[str, str]]) -> bytes:
    """A message head ready to send."""
    lines = [first, *(f"{name}: {value}" for name, value in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A whole chunked body, decoded (trailers dropped)."""
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadMessage(f"bad chunk size {size_line[:20]!r}") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def relay_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy a chunked body as it is, up to and including its last chunk and trailers."""
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadMessage(f"bad chunk size {size_line[:20]!r}") from None
        writer.write(size_line)
        if size == 0:
            while True:
                line = await reader.readuntil(b"\r\n")
                writer.write(line)
                if line == b"\r\n":
                    await writer.drain()
                    return
        await relay_exactly(reader, writer, size + 2)


async def relay_exactly(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: int
) -> None:
    """Copy exactly ``count`` bytes.

    Raises:
        asyncio.IncompleteReadError: The sender closed early.
    """
    while count > 0:
        data = await reader.read(min(count, CHUNK))
        if not data:
            raise asyncio.IncompleteReadError(b"", count)
        writer.write(data)
        count -= len(data)
        await writer.drain()


async def relay_until_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy everything until the sender closes."""
    while data := await reader.read(CHUNK):
        writer.write(data)
        await writer.drain()


def parse_cookies(value: str | None) -> dict[str, str]:
    """Cookies of a ``Cookie`` header by name (first value wins)."""
    cookies: dict[str, str] = {}
    if value:
        for part in value.split(";"):
            name, sep, content = part.strip().partition("=")
            if sep and name:
                cookies.setdefault(name, content.strip().strip('"'))
    return cookies


BUFFERED = 256 * 1024
"""A body up to this size is read whole and written with its head in one write."""


@dataclass(frozen=True)
class Relayed:
    """How relaying an answer went.

    Attributes:
        status: The answer's status code.
        upstream_keeps: Whether the upstream connection may be reused.
        until_close: Whether the body ran until the upstream closed (the client must close too).
    """

    status: int
    upstream_keeps: bool
    until_close: bool


async def relay_answer(
    method: str,
    raw: bytes,
    upstream: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    keep: bool,
    stamp: bytes = b"",
) -> Relayed:
    """Relay an answer whose head is ``raw`` and whose body follows on ``upstream``.

    A plain head is passed on as received; otherwise it is rebuilt with the
    framing and ``Connection`` header the client connection needs. ``stamp``
    (complete header lines) is appended to the head.
    """
    answer = parse_response(raw)
    status = int(answer.first[1])
    upstream_keeps = answer.keep_alive(answer.first[0])
    no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
    length = None if no_body else answer.length()
    chunked = not no_body and length is None and answer.chunked()
    until_close = not no_body and length is None and not chunked
    if answer.plain and keep and not until_close:
        head = raw
    else:
        headers = answer.forwardable()
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        if not keep or until_close:
            headers.append(("Connection", "close"))
        head = render(f"HTTP/1.1 {answer.first[1]} {answer.first[2]}", headers)
    if stamp:
        head = head[:-2] + stamp + b"\r\n"
    if length is not None and length <= BUFFERED:
        writer.write(head + (await upstream.readexactly(length) if length else b""))
    else:
        writer.write(head)
        if length is not None:
            await relay_exactly(upstream, writer, length)
        elif chunked:
            await relay_chunked(upstream, writer)
        elif until_close:
            await relay_until_eof(upstream, writer)
            upstream_keeps = False
    if writer.transport.get_write_buffer_size() > CHUNK:
        await writer.drain()
    return Relayed(status, upstream_keeps, until_close)
