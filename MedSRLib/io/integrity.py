"""Whether a volume file holds all the bytes its header promises: gzip streams complete and with a good checksum,
raw data as long as the header says. SimpleITK reads a cut-short ``.nii.gz`` as a volume padded with zeros and
says nothing, so every read (and every write, read back) is checked here first."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import MedSRError

_CHUNK = 1 << 20


GZIP, ZLIB = 16 + zlib.MAX_WBITS, zlib.MAX_WBITS


def gzip_length(path: Path, offset: int = 0, wbits: int = GZIP) -> int:
    """Decompressed length of the gzip stream(s) in ``path`` from ``offset`` (``wbits=ZLIB``: a zlib stream, as
    MetaImage compresses); MedSRError when a stream is cut short or its checksum or length trailer is wrong."""
    total = 0
    with open(path, "rb") as handle:
        handle.seek(offset)
        decompressor = zlib.decompressobj(wbits)  # header and trailer, checksum checked
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            while chunk:
                try:
                    total += len(decompressor.decompress(chunk))
                except zlib.error as error:
                    raise MedSRError(f"{path} is damaged: its compressed data fail their check ({error})") from None
                if decompressor.eof:  # concatenated members: start again on what is left
                    chunk = decompressor.unused_data
                    decompressor = zlib.decompressobj(wbits) if chunk.strip(b"\0") else None
                    if decompressor is None:
                        return total
                else:
                    chunk = b""
    if not decompressor.eof:
        raise MedSRError(f"{path} is truncated: its compressed data end before the end of the stream "
                         f"({total} bytes of data recovered); the copy is incomplete")
    return total


def check_complete(path: Path, size, pixel_bytes: int) -> None:
    """Refuse ``path`` when it holds fewer voxel bytes than ``size`` voxels of ``pixel_bytes`` each (NIfTI, NRRD with
    an attached header, MetaImage .mha/.mhd; compressed or not); other formats are left to their reader."""
    path = Path(path)
    name = path.name.lower()
    needed = int(np.prod([int(n) for n in size], dtype=np.int64)) * int(pixel_bytes)
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if name.endswith(".nii.gz") or name.endswith(".nii"):
        available = gzip_length(path) if head[:2] == b"\x1f\x8b" else path.stat().st_size
        raw = _gunzip_start(path, 352) if head[:2] == b"\x1f\x8b" else head[:352]
        offset = int(struct.unpack("<f", raw[108:112])[0]) if len(raw) >= 112 else 352
        if struct.unpack("<i", raw[:4])[0] != 348:  # big-endian header
            offset = int(struct.unpack(">f", raw[108:112])[0])
        data = available - max(offset, 352)
    elif name.endswith(".nrrd") and head.startswith(b"NRRD"):
        end = head.find(b"\n\n")
        if end < 0:
            return
        header = head[:end].decode("latin-1").lower()
        if "data file:" in header or "datafile:" in header:
            return  # detached data: its reader checks
        start = end + 2
        encoding = next((line.split(":", 1)[1].strip() for line in header.splitlines() if line.startswith("encoding:")), "raw")
        if encoding in ("gzip", "gz"):
            data = gzip_length(path, start)
        elif encoding == "raw":
            data = path.stat().st_size - start
        else:
            return
    elif name.endswith((".mha", ".mhd")):
        data = _metaimage_bytes(path, head)
        if data is None:
            return
    else:
        return
    if data < needed:
        raise MedSRError(f"{path} is truncated: its header promises {needed} bytes of voxels but the file holds {max(data, 0)}")


def _gunzip_start(path: Path, count: int) -> bytes:
    with open(path, "rb") as handle:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = b""
        while len(out) < count:
            chunk = handle.read(4096)
            if not chunk:
                break
            try:
                out += decompressor.decompress(chunk)
            except zlib.error:
                break
    return out[:count]


def _metaimage_bytes(path: Path, head: bytes):
    """Voxel bytes a MetaImage file (or the data file its .mhd names) holds; None when the data are a list of files."""
    fields, start = {}, 0
    for line in head.split(b"\n"):
        start += len(line) + 1
        key, _, value = line.decode("latin-1").partition("=")
        fields[key.strip().lower()] = value.strip()
        if key.strip().lower() == "elementdatafile":
            break
    else:
        return None
    source = fields["elementdatafile"]
    if source.upper() == "LOCAL":
        data_path, offset = path, start
    elif source.upper().startswith("LIST") or "%" in source or " " in source:
        return None
    else:
        data_path, offset = path.parent / source, 0
        if not data_path.exists():
            raise MedSRError(f"{path} names the data file {source}, which is missing")
    if fields.get("compresseddata", "false").lower() == "true":
        return gzip_length(data_path, offset, ZLIB)
    return data_path.stat().st_size - offset
