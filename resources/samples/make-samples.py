#!/usr/bin/env python3
"""Writes the sample saliency maps (8-bit grayscale PNG, luminance = saliency in 0..1).

Standard library only, so it runs anywhere: python3 resources/samples/make-samples.py
- gaussian-blobs.png  (448 x 336): three Gaussian blobs of different size and strength
- object-mask.png     (392 x 392): a soft-edged object silhouette (a mug: body, handle, steam)
- gradient.png        (560 x 280): a left-to-right linear ramp
"""
import math
import os
import struct
import zlib


def write_png(path, width, height, value):
    """value(x, y) -> float in 0..1; written as 8-bit grayscale."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            v = min(1.0, max(0.0, value(x + 0.5, y + 0.5)))
            rows.append(int(round(v * 255)))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    png += chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as out:
        out.write(png)


def blobs(x, y):
    centres = [(120, 110, 45, 1.0), (320, 210, 70, 0.8), (300, 70, 25, 0.6)]
    return sum(a * math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s)) for cx, cy, s, a in centres)


def smooth_step(distance, softness=4.0):
    """1 inside (distance < 0), 0 outside, a soft edge of a few pixels."""
    return 1.0 / (1.0 + math.exp(distance / softness))


def mug(x, y):
    body = max(abs(x - 180) - 90, abs(y - 230) - 110)            # rounded-ish box
    handle = abs(math.hypot(x - 285, y - 230) - 55) - 14           # ring on the right
    outside_band = 0 if 35 < y < 105 else 99                      # two wavy strokes above
    steam = min(abs(x - (150 + 12 * math.sin(y / 14))), abs(x - (210 + 12 * math.sin(y / 14 + 1))))
    steam = steam - 6 + outside_band
    inside = max(smooth_step(body), 0.85 * smooth_step(handle), 0.5 * smooth_step(steam))
    return inside


def gradient(x, y):
    return x / 560.0


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    write_png(os.path.join(here, "gaussian-blobs.png"), 448, 336, blobs)
    write_png(os.path.join(here, "object-mask.png"), 392, 392, mug)
    write_png(os.path.join(here, "gradient.png"), 560, 280, gradient)
