"""Reading `retention import` input: files or stdin, plain or gzip, line by numbered line."""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, cast

GZIP_MAGIC = b"\x1f\x8b"


class BrokenInput(Exception):
    """The input cannot be read past some line (e.g. a truncated gzip stream)."""

    def __init__(self, after_line: int, reason: str) -> None:
        super().__init__(reason)
        self.after_line = after_line
        self.reason = reason


@dataclass(frozen=True)
class Line:
    number: int
    # None when the line is not UTF-8 text: reported as invalid, never sent.
    text: str | None


class InputFile:
    """One input: its name as given, its size on disk when known, its lines."""

    def __init__(self, name: str, raw: io.BufferedReader[Any]) -> None:
        self.name = name
        self._raw = raw
        # Compression is read from the bytes, not the name, so `gzip -c x | import -` works.
        self.compressed = raw.peek(2)[:2] == GZIP_MAGIC
        self._stream: io.BufferedIOBase = gzip.GzipFile(fileobj=raw) if self.compressed else raw
        self.size = regular_file_size(raw)

    def position(self) -> int | None:
        """Bytes consumed from the file as stored (compressed bytes for gzip), for progress;
        None when the size is unknown (a pipe), where a position means nothing."""
        return self._raw.tell() if self.size is not None else None

    def lines(self) -> Iterator[Line]:
        number = 0
        try:
            for number, raw in enumerate(self._stream, start=1):
                try:
                    text: str | None = raw.decode("utf-8")
                except UnicodeDecodeError:
                    text = None
                yield Line(number, text)
        except (OSError, EOFError, zlib.error) as exc:
            # gzip raises BadGzipFile (an OSError) or EOFError on a damaged stream.
            raise BrokenInput(number, f"cannot read past line {number}: {exc}") from exc


def regular_file_size(stream: IO[Any]) -> int | None:
    """Bytes in the file behind `stream` when it is a regular file; None for a pipe."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


@contextmanager
def open_input(name: str) -> Iterator[InputFile]:
    """`-` is stdin (left open); anything else a path, closed on exit."""
    if name == "-":
        stdin = sys.stdin.buffer
        if isinstance(stdin, io.BufferedReader):
            yield InputFile(name, stdin)
            return
        # peek() needs a buffered reader (click's test runner gives a BytesIO); detached
        # afterwards so that dropping the wrapper does not close stdin.
        reader = io.BufferedReader(cast(io.RawIOBase, stdin))
        try:
            yield InputFile(name, reader)
        finally:
            reader.detach()
        return
    with open(name, "rb") as raw:
        yield InputFile(name, raw)
