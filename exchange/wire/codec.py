"""I/O-free msgpack framing: bytes in -> messages out, messages in -> bytes out.

A frame is one msgpack value; values follow each other on the stream with no length prefix (msgpack
is self-delimiting). The decoder is fed whatever the socket delivered and yields complete values;
a value (or an unfinished one) larger than `max_frame` bytes raises FrameTooLarge, undecodable bytes
raise BadFrame. After either error the stream cannot be resynchronised: the caller closes it.
"""

from __future__ import annotations

from typing import Any

import msgpack

DEFAULT_MAX_FRAME = 64 * 1024


class FrameError(Exception):
    """The byte stream is unusable from here on."""

    code = "BAD_FRAME"


class FrameTooLarge(FrameError):
    code = "FRAME_TOO_LARGE"


class BadFrame(FrameError):
    code = "BAD_FRAME"


class Decoder:
    """Incremental msgpack decoder with a frame size limit (bytes) and bounded containers."""

    __slots__ = ("_chunk", "_fed", "_last", "_ready", "_rest", "_unpacker", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._chunk = max(1024, max_frame // 4)
        self._unpacker = msgpack.Unpacker(
            raw=False, max_buffer_size=max_frame + self._chunk, max_str_len=max_frame, max_bin_len=max_frame,
            max_array_len=max_frame // 2, max_map_len=max_frame // 4, max_ext_len=0, strict_map_key=True)
        self._fed = 0  # bytes fed to the unpacker so far; unpacker.tell() is the bytes consumed
        self._last = 0  # offset just past the last complete message
        self._rest: bytes | memoryview = b""  # received, not yet fed to the unpacker (it had no room)
        self._ready = False  # the unpacker was fed since it last ran out of data: it may hold messages

    @property
    def pending(self) -> bool:
        """Input is buffered that a further feed() (even with no data) may turn into messages."""
        return self._ready or bool(self._rest)

    @property
    def backlog(self) -> int:
        """Bytes received and not yet decoded."""
        return self._fed - self._unpacker.tell() + len(self._rest)

    def push(self, data: bytes | memoryview) -> None:
        """Take received bytes (copied: `data` may be reused) for later feed() calls."""
        if not data:
            return
        if not self._rest:
            try:
                self._unpacker.feed(data)
            except msgpack.BufferFull:  # the messages it holds are not taken yet: keep the bytes aside
                self._rest = bytes(data)
            else:
                self._fed += len(data)
                self._ready = True
            return
        self._rest = bytes(self._rest) + data

    def feed(self, data: bytes = b"", limit: int = -1) -> list[Any]:
        """Feed received bytes; return the complete messages they finish, in order: at most `limit`
        (< 0: all), the rest staying buffered (`pending`) for the next call."""
        self.push(data)
        out: list[Any] = []
        up = self._unpacker
        while True:
            while self._ready and len(out) != limit:
                if up.tell() == self._fed:  # all consumed: spare the OutOfData exception
                    self._ready = False
                    break
                try:
                    msg = up.unpack()
                except msgpack.OutOfData:
                    self._ready = False
                    break
                except (ValueError, TypeError, msgpack.UnpackException) as exc:
                    if "exceeds max" in str(exc):  # a string, binary or container longer than a frame
                        raise FrameTooLarge(f"frame larger than {self.max_frame} bytes ({exc})") from None
                    raise BadFrame(f"undecodable frame ({type(exc).__name__}: {exc})") from None
                end = up.tell()
                if end - self._last > self.max_frame:
                    raise FrameTooLarge(f"frame of {end - self._last} bytes is larger than {self.max_frame}")
                self._last = end
                out.append(msg)
            if len(out) == limit:
                return out
            if self._fed - self._last > self.max_frame:
                raise FrameTooLarge(f"frame larger than {self.max_frame} bytes")
            if not self._rest:
                return out
            piece, self._rest = self._rest[:self._chunk], self._rest[self._chunk:]
            try:
                up.feed(piece)
            except msgpack.BufferFull:
                raise FrameTooLarge(f"frame larger than {self.max_frame} bytes") from None
            self._fed += len(piece)
            self._ready = True


_packer = msgpack.Packer(use_bin_type=True)


def encode(msg: Any) -> bytes:
    """One message as one frame."""
    return _packer.pack(msg)


class Encoded(bytes):
    """A value already encoded (one encoding shared by many answers)."""


_RESULT_TYPE = b"\x83" + _packer.pack("type") + _packer.pack("result") + _packer.pack("id")
_RESULT_KEY = _packer.pack("result")


def encode_result(rid: int, result: Encoded) -> bytes:
    """The frame {"type": "result", "id": rid, "result": ...} around an already encoded result."""
    return b"".join((_RESULT_TYPE, _packer.pack(rid), _RESULT_KEY, result))
