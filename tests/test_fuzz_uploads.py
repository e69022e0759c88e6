"""Property-based fuzzing of the web app's upload checks (issue 12), ``crosstrainer.server.uploads``: any bytes give
the documented answer (a ``FileType`` or ``None`` from ``sniff``; ``None`` or a one-line reason from ``check_json`` /
``check_npy``; an ``Upload``, ``BadUpload`` or ``UploadTooLarge`` from ``receive_multipart``), never another exception.

Profiles from ``conftest.py`` (``HYPOTHESIS_PROFILE=ci`` by default, ``fuzz`` for ``make fuzz``).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from crosstrainer.server import uploads

MAGIC = st.sampled_from(
    [b"", b"\x00\x00\x00\x18ftyp", b"\x00\x00\x00\x08moov", b"\x1a\x45\xdf\xa3", b"RIFF\x00\x00\x00\x00AVI ",
     b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", b"\xef\xbb\xbf{", b"  [", b"{", b"["]
)  # fmt: skip


def on_disk(raw: bytes, check) -> str | None:
    with tempfile.TemporaryDirectory(prefix="fuzz-up-") as d:
        path = Path(d) / "upload"
        path.write_bytes(raw)
        return check(path)


def one_line_or_none(reason: str | None) -> None:
    assert reason is None or (isinstance(reason, str) and reason and "\n" not in reason)


@given(magic=MAGIC, rest=st.binary(max_size=80))
def test_fuzz_sniff(magic: bytes, rest: bytes) -> None:
    head = (magic + rest)[: uploads.HEAD_BYTES]
    ftype = uploads.sniff(head)
    assert ftype is None or ftype in (uploads.MP4, uploads.MOV, uploads.MKV, uploads.WEBM, uploads.AVI, uploads.NPY,
                                      uploads.JSON)  # fmt: skip
    assert (ftype is uploads.NPY) == head.startswith(b"\x93NUMPY")


json_docs = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), st.text(max_size=6)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=25,
)


@given(
    raw=st.one_of(
        st.binary(max_size=400),
        json_docs.map(lambda d: json.dumps(d).encode()),
        st.tuples(json_docs, st.integers(0, 200), st.binary(max_size=20)).map(
            lambda t: json.dumps(t[0]).encode()[: t[1]] + t[2]
        ),
        st.tuples(st.sampled_from(["[", '{"a":', '"\\\\', "[{"]), st.integers(1, 50_000)).map(
            lambda t: (t[0] * t[1]).encode()
        ),
    ),
    magic=MAGIC,
)
@example(raw=b"[" * 100_000 + b"]" * 100_000, magic=b"")  # issue 12: a RecursionError, then an HTTP 500
@example(raw=b'{"a": 1' + b"0" * 5000 + b"}", magic=b"")  # an integer past Python's 4300-digit limit
def test_fuzz_check_json(raw: bytes, magic: bytes) -> None:
    one_line_or_none(on_disk(magic + raw, uploads.check_json))


@given(
    shape=st.lists(st.one_of(st.integers(0, 40), st.sampled_from([2**31, 9_999_999_999])), max_size=4).map(tuple),
    descr=st.sampled_from(["<f4", ">f8", "<i2", "<c8", "|O", "<U4", "|V8", "|b1"]),
    fortran=st.booleans(),
    data=st.binary(max_size=1000),
    version=st.sampled_from([(1, 0), (2, 0), (3, 0)]),
    cut=st.integers(0, 200),
)
@example(shape=(2, 2**31, 9_999_999_999), descr=">f8", fortran=False, data=b"", version=(1, 0), cut=0)  # fuzz find
@example(shape=(), descr="<f4", fortran=False, data=b"\0" * 8 + b"[", version=(1, 0), cut=119)  # fuzz: TokenError
def test_fuzz_check_npy(shape: tuple, descr: str, fortran: bool, data: bytes, version: tuple, cut: int) -> None:
    import io

    buf = io.BytesIO()
    np.lib.format._write_array_header(buf, {"descr": descr, "fortran_order": fortran, "shape": shape}, version)
    header = buf.getvalue()
    one_line_or_none(on_disk(header + data, uploads.check_npy))
    one_line_or_none(on_disk(header[:cut] + data, uploads.check_npy))  # a header cut short


@given(raw=st.binary(max_size=300), magic=st.sampled_from([b"", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x03\x00"]))
def test_fuzz_check_npy_bytes(raw: bytes, magic: bytes) -> None:
    one_line_or_none(on_disk(magic + raw, uploads.check_npy))


@given(name=st.text(max_size=300), text=st.text(max_size=200))
def test_fuzz_names_and_scrub(name: str, text: str) -> None:
    shown = uploads.safe_display_name(name)
    assert shown and len(shown) <= 200 and shown.isprintable() and "/" not in shown
    private = Path("/tmp/up-x") / "0123456789abcdef0123456789abcdef.json"
    out = uploads.scrub(f"{text} {private} {text}", private, shown)
    assert str(private.parent) not in out and private.name not in out


@st.composite
def multipart_bodies(draw) -> tuple[bytes, str]:
    boundary = draw(st.sampled_from(["b0und4ry", "----x", "a" * 70]))
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(["file", "sport", "kind", "other", 'fi"le']))
        filename = draw(st.one_of(st.none(), st.text(max_size=20)))
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        body = draw(st.binary(max_size=300))
        parts.append(f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode("utf-8", "replace") + body + b"\r\n")
    raw = b"".join(parts) + (f"--{boundary}--\r\n".encode() if draw(st.booleans()) else b"")
    if draw(st.booleans()):  # corrupt it
        i = draw(st.integers(0, max(len(raw), 1)))
        raw = raw[:i] + draw(st.binary(max_size=30)) + raw[i + draw(st.integers(0, 30)) :]
    ctype = draw(
        st.sampled_from(
            [f"multipart/form-data; boundary={boundary}", "multipart/form-data", "application/json", "", "multipart/x"]
        )
    )
    return raw, ctype


@given(body=multipart_bodies(), chunk=st.integers(1, 64), limit=st.sampled_from([10, 200, 10_000]))
def test_fuzz_receive_multipart(body: tuple[bytes, str], chunk: int, limit: int) -> None:
    raw, ctype = body

    async def chunks():
        for i in range(0, len(raw), chunk):
            yield raw[i : i + chunk]

    with tempfile.TemporaryDirectory(prefix="fuzz-mp-") as d:
        dest = Path(d)
        try:
            up = asyncio.run(uploads.receive_multipart(chunks(), ctype, dest, limit))
        except (uploads.BadUpload, uploads.UploadTooLarge):
            assert list(dest.iterdir()) == []  # nothing left behind
            return
        assert up.path is not None and up.path.is_file() and up.size <= limit
        assert up.path.stat().st_size == up.size and len(up.head) == min(up.size, uploads.HEAD_BYTES)
