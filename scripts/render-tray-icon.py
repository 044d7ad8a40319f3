#!/usr/bin/env python3
"""Renders assets/icons/viban.svg's shapes to assets/icons/tray-64.png for the tray.

The SVG is four rounded rectangles; drawing them here (4x4 supersampled) needs no
image library. Run it again after changing the SVG's shapes below.
"""
import pathlib
import struct
import zlib

SIZE = 64
SCALE = SIZE / 32
# (x, y, width, height, radius, rgb, opacity) in the SVG's 32x32 units.
SHAPES = [
    (0, 0, 32, 32, 7, (0x4F, 0x46, 0xE5), 1.0),
    (6, 7, 5, 18, 1.5, (255, 255, 255), 1.0),
    (13.5, 7, 5, 12, 1.5, (255, 255, 255), 0.85),
    (21, 7, 5, 7, 1.5, (255, 255, 255), 0.7),
]


def inside(px, py, x, y, w, h, r):
    if not (x <= px <= x + w and y <= py <= y + h):
        return False
    cx = min(max(px, x + r), x + w - r)
    cy = min(max(py, y + r), y + h - r)
    return (px - cx) ** 2 + (py - cy) ** 2 <= r * r


def pixel(col, row):
    samples = 4
    r = g = b = a = 0.0
    for sy in range(samples):
        for sx in range(samples):
            px = (col + (sx + 0.5) / samples) / SCALE
            py = (row + (sy + 0.5) / samples) / SCALE
            cr = cg = cb = ca = 0.0
            for x, y, w, h, rad, rgb, opacity in SHAPES:
                if inside(px, py, x, y, w, h, rad):
                    cr = cr * (1 - opacity) + rgb[0] * opacity
                    cg = cg * (1 - opacity) + rgb[1] * opacity
                    cb = cb * (1 - opacity) + rgb[2] * opacity
                    ca = ca * (1 - opacity) + opacity
            r, g, b, a = r + cr, g + cg, b + cb, a + ca
    # The sums are premultiplied by coverage; PNG wants straight colour.
    n = samples * samples
    if a == 0:
        return bytes(4)
    return bytes([round(r / a), round(g / a), round(b / a), round(255 * a / n)])


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


raw = b"".join(b"\0" + b"".join(pixel(col, row) for col in range(SIZE)) for row in range(SIZE))
png = (
    b"\x89PNG\r\n\x1a\n"
    + chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(raw, 9))
    + chunk(b"IEND", b"")
)
out = pathlib.Path(__file__).resolve().parent.parent / "assets/icons/tray-64.png"
out.write_bytes(png)
print(f"wrote {out} ({len(png)} bytes)")
