#!/usr/bin/env python3
"""Draws the packages' icon (docs/assets/icon.png, 128x128): a white "V" on a blue rounded square.

Run once; the PNG is committed and packed as every package's PackageIcon. Standard library only
(zlib + struct write the PNG), so it needs nothing installed.
"""
import struct
import zlib
from pathlib import Path

SIZE = 128
RADIUS = 24
BLUE = (0x1F, 0x5F, 0xAF, 0xFF)
WHITE = (0xFF, 0xFF, 0xFF, 0xFF)
CLEAR = (0, 0, 0, 0)


def inside_rounded_square(x: float, y: float) -> bool:
    cx = min(max(x, RADIUS), SIZE - RADIUS)
    cy = min(max(y, RADIUS), SIZE - RADIUS)
    return (x - cx) ** 2 + (y - cy) ** 2 <= RADIUS ** 2


def distance_to_segment(px, py, ax, ay, bx, by) -> float:
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return ((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5


def pixel(x: int, y: int):
    px, py = x + 0.5, y + 0.5
    if not inside_rounded_square(px, py):
        return CLEAR
    # The two strokes of the V meet at the bottom centre.
    stroke = min(distance_to_segment(px, py, 32, 30, 64, 100), distance_to_segment(px, py, 96, 30, 64, 100))
    return WHITE if stroke <= 9 else BLUE


def png(width: int, height: int, rows) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(channel for p in row for channel in p) for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "assets" / "icon.png"
    target.write_bytes(png(SIZE, SIZE, [[pixel(x, y) for x in range(SIZE)] for y in range(SIZE)]))
    print(target)
