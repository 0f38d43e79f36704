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

    __slots__ = ("_chunk", "_fed", "_unpacker", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._chunk = max(1024, max_frame // 4)
        self._unpacker = msgpack.Unpacker(
            raw=False, max_buffer_size=max_frame + self._chunk, max_str_len=max_frame, max_bin_len=max_frame,
            max_array_len=max_frame // 2, max_map_len=max_frame // 4, max_ext_len=0, strict_map_key=True)
        self._fed = 0  # bytes fed so far; unpacker.tell() is the bytes consumed

    def feed(self, data: bytes) -> list[Any]:
        """Feed received bytes; return the complete messages they finish, in order."""
        out: list[Any] = []
        up = self._unpacker
        step = self._chunk
        view = memoryview(data)
        for start in range(0, len(data), step):
            piece = view[start:start + step]
            try:
                up.feed(piece)
            except msgpack.BufferFull:
                raise FrameTooLarge(f"frame larger than {self.max_frame} bytes") from None
            self._fed += len(piece)
            last = up.tell()
            while True:
                try:
                    msg = up.unpack()
                except msgpack.OutOfData:
                    break
                except (ValueError, TypeError, msgpack.UnpackException) as exc:
                    if "exceeds max" in str(exc):  # a string, binary or container longer than a frame
                        raise FrameTooLarge(f"frame larger than {self.max_frame} bytes ({exc})") from None
                    raise BadFrame(f"undecodable frame ({type(exc).__name__}: {exc})") from None
                end = up.tell()
                if end - last > self.max_frame:
                    raise FrameTooLarge(f"frame of {end - last} bytes is larger than {self.max_frame}")
                last = end
                out.append(msg)
            if self._fed - last > self.max_frame:
                raise FrameTooLarge(f"frame larger than {self.max_frame} bytes")
        return out


_packer = msgpack.Packer(use_bin_type=True)


def encode(msg: Any) -> bytes:
    """One message as one frame."""
    return _packer.pack(msg)
