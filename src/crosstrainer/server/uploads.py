"""Receiving uploads safely: stream a multipart body to a private file, stop at a size limit, check the type by content.

The file name the user sent is kept for display only; the file on disk gets a random name and an extension
chosen from its content (so the pipeline dispatches on what the bytes are, not on what the name claims).

>>> sniff(b"\\x00\\x00\\x00\\x18ftypmp42" + bytes(8)).suffix
'.mp4'
>>> sniff(b"\\x93NUMPY\\x01\\x00").kind
'keypoints'
>>> sniff(b"hello, I am text") is None
True
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header

HEAD_BYTES = 64


@dataclass(frozen=True)
class FileType:
    """What the bytes are: ``kind`` is what ``Assessor.assess`` takes ("video" or "keypoints")."""

    name: str
    kind: str
    suffix: str


MP4 = FileType("MP4/MOV video", "video", ".mp4")
MOV = FileType("QuickTime video", "video", ".mov")
MKV = FileType("Matroska video", "video", ".mkv")
WEBM = FileType("WebM video", "video", ".webm")
AVI = FileType("AVI video", "video", ".avi")
NPY = FileType("NumPy keypoint array", "keypoints", ".npy")
JSON = FileType("JSON keypoints", "keypoints", ".json")

ALLOWED = "MP4/MOV, WebM/Matroska or AVI video, or a keypoint file (.npy array or JSON)"

# Top-level boxes an old QuickTime file may start with instead of "ftyp".
_QT_BOXES = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def sniff(head: bytes) -> FileType | None:
    """The file type from the first bytes (magic numbers), or ``None`` when it is none of the allowed types."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return MOV if head[8:12] == b"qt  " else MP4
    if len(head) >= 8 and head[4:8] in _QT_BOXES:
        return MOV
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM if b"webm" in head[:HEAD_BYTES] else MKV
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return AVI
    if head.startswith(b"\x93NUMPY"):
        return NPY
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text[:1] in (b"{", b"["):
        return JSON
    return None


def check_json(path: Path) -> str | None:
    """``None`` when the file is valid JSON within the keypoint reader's bounds, else a one-line reason.

    The nesting depth and size are checked first by a streaming scan (``keypoints.io.scan_json``), so a hostile
    file is never parsed into memory and never overflows the parser's recursion.
    """
    from crosstrainer.keypoints.io import ReadLimits, scan_json

    limits = ReadLimits()
    problem = scan_json(path, limits.max_json_depth, limits.max_json_values, limits.max_json_bytes)
    if problem:
        return problem
    try:
        with open(path, encoding="utf-8-sig") as f:
            json.load(f)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, a 5000-digit integer, ...
        return f"not valid JSON ({_first_line(exc)})"
    return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def check_npy(path: Path) -> str | None:
    """``None`` when the .npy header is readable (shape and dtype), else a one-line reason."""
    import numpy as np

    try:
        with np.errstate(over="ignore"):  # a declared shape whose byte size overflows: OverflowError below
            arr = np.load(path, mmap_mode="r", allow_pickle=False)  # reads the header; fails when the data is short
        if not isinstance(arr, np.ndarray):
            return "not a single array"
    except Exception as exc:  # numpy's header parser fails in many ways on hostile bytes: all mean unreadable
        return f"unreadable .npy file ({_first_line(exc)})"  # (ValueError, OverflowError, tokenize.TokenError, ...)
    return None


def scrub(text: str, private_path: Path, name: str) -> str:
    """Replace the private upload path in a message (even cut short, as decoders do) with the user's file name.

    >>> scrub("cannot open '/tmp/up-x/1f2e.mp4' (EOF)", Path("/tmp/up-x/1f2e.mp4"), "curl.mp4")
    "cannot open 'curl.mp4' (EOF)"
    >>> scrub("Invalid data: '/srv/st/upload)", Path("/srv/st/uploads/1f2e.mp4"), "curl.mp4")
    "Invalid data: 'curl.mp4)"
    """
    text = re.sub(
        re.escape(str(private_path.parent)) + r"(?:/[0-9a-f]{0,32}(?:\.[a-z0-9]{0,5})?)?", lambda _: name, text
    )
    # a decoder may cut the path inside the upload folder's own name ('<state>/upload' of '<state>/uploads/...')
    text = re.sub(re.escape(str(private_path.parent.parent)) + r"/[^\s'\")]*", lambda _: name, text)
    return text.replace(private_path.name, name)


class UploadTooLarge(Exception):
    pass


class BadUpload(Exception):
    pass


@dataclass
class Upload:
    """A received multipart form: the file (saved under ``path``) and the text fields."""

    path: Path | None = None
    filename: str = ""
    size: int = 0
    head: bytes = b""
    fields: dict[str, str] = field(default_factory=dict)


def safe_display_name(name: str) -> str:
    """The base name the user sent, stripped of folders and control characters, for display only."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:200] or "upload"


async def receive_multipart(
    chunks: AsyncIterator[bytes], content_type: str, dest_dir: Path, max_bytes: int, file_field: str = "file"
) -> Upload:
    """Stream a ``multipart/form-data`` body: the part named ``file_field`` goes to a random file in ``dest_dir``.

    Raises ``UploadTooLarge`` as soon as the file passes ``max_bytes`` (the partial file is deleted) and
    ``BadUpload`` for a body that is not multipart or has no file. Text fields are kept (up to 4 KiB each).
    """
    ctype, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise BadUpload("send the file as multipart/form-data in a field named 'file'")
    upload = Upload()
    state: dict = {"headers": {}, "name": None, "sink": None, "field": None, "hname": b"", "hvalue": b""}
    out_path = dest_dir / secrets.token_hex(16)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hname"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["hvalue"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["hname"].lower()] = state["hvalue"]
        state["hname"], state["hvalue"] = b"", b""

    def on_headers_finished() -> None:
        _, disp = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if name == file_field and upload.path is None:
            upload.filename = safe_display_name(disp.get(b"filename", b"upload").decode("utf-8", "replace"))
            fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            state["sink"] = os.fdopen(fd, "wb")
            upload.path = out_path
        else:
            state["field"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if state["sink"] is not None:
            upload.size += len(chunk)
            if upload.size > max_bytes:
                raise UploadTooLarge()
            if len(upload.head) < HEAD_BYTES:
                upload.head += chunk[: HEAD_BYTES - len(upload.head)]
            state["sink"].write(chunk)
        elif state["field"] is not None and len(state["field"]) < 4096:
            state["field"] += chunk[: 4096 - len(state["field"])]

    def on_part_end() -> None:
        if state["sink"] is not None:
            state["sink"].close()
            state["sink"] = None
        elif state["field"] is not None:
            upload.fields[state["name"]] = state["field"].decode("utf-8", "replace")
        state["field"], state["headers"] = None, {}

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
    except BaseException as exc:
        if state["sink"] is not None:
            state["sink"].close()
        out_path.unlink(missing_ok=True)
        if isinstance(exc, UploadTooLarge):
            raise
        if isinstance(exc, Exception) and not isinstance(exc, BadUpload):
            raise BadUpload(f"malformed multipart body ({type(exc).__name__})") from None
        raise
    if upload.path is None:
        raise BadUpload(f"no file in the upload: send it in a form field named '{file_field}'")
    return upload
