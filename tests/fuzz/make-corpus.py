#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets into tests/fuzz/corpus/<target>/ (or the folder
given as the only argument): small valid inputs, and a few that each reader must refuse, for
libFuzzer to mutate.

    fuzz_npy             .npy in float16/32/64, big-endian, versions 1 to 3; int32, Fortran order
    fuzz_tensor_file     those, .npz stored/deflated/ZIP64 with one array or one per layer, and
                         .safetensors in F16/BF16/F32/F64
    fuzz_dump_meta       keys - 1, queries - 1 (two little-endian uint16), then a sidecar JSON
    fuzz_saliency_image  43 bytes of projection options (see fuzz_saliency_image.cpp), then a tiny
                         PNG (grey 8/16-bit, RGBA, palette), BMP, JPEG, TIFF or PGM image
    fuzz_cli_options     command lines, arguments separated by NUL bytes

Every file is made here, byte for byte the same on each run (fixed seeds, fixed zip times); the
images by small writers below (no imaging library is needed). Run with Debian's /usr/bin/python3
(python3-numpy).
"""

import io
import json
import os
import shutil
import struct
import sys
import zipfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RNG = np.random.default_rng(15)


def attention(*shape):
    """Rows of probabilities (the last axis sums to 1), float64."""
    x = RNG.standard_normal(shape)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def npy_bytes(array, version=(1, 0)):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


def bfloat16_bits(values):
    u = values.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def npz_bytes(members, compression=zipfile.ZIP_STORED, zip64=False):
    """MEMBERS: (name, array) written as name.npy, in this order, with a fixed time."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, array in members:
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            with z.open(info, "w", force_zip64=zip64) as f:
                f.write(npy_bytes(array))
    return buf.getvalue()


def safetensors_bytes(tensors, metadata=None):
    """TENSORS: (name, dtype, shape, raw bytes)."""
    header = {} if metadata is None else {"__metadata__": metadata}
    data = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def st_raw(array, dtype):
    if dtype == "BF16":
        return bfloat16_bits(array).tobytes()
    return array.astype({"F16": "<f2", "F32": "<f4", "F64": "<f8"}[dtype]).tobytes()


# --- images ------------------------------------------------------------------------------------

def png_bytes(pixels, color_type, bit_depth=8, palette=None):
    """PIXELS: uint8/uint16 array [h, w] or [h, w, c]; filter 0 on every row."""
    h, w = pixels.shape[:2]
    big = pixels.astype(">u2" if bit_depth == 16 else "u1")
    raw = b"".join(b"\x00" + big[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    out += chunk(b"gAMA", struct.pack(">I", 45455))
    if palette is not None:
        out += chunk(b"PLTE", bytes(palette))
    out += chunk(b"IDAT", zlib.compress(raw, 9))
    return out + chunk(b"IEND", b"")


def bmp_bytes(rgb):
    """24-bit bottom-up BMP of RGB [h, w, 3]."""
    h, w = rgb.shape[:2]
    stride = (3 * w + 3) // 4 * 4
    rows = b"".join(rgb[y, :, ::-1].astype("u1").tobytes().ljust(stride, b"\x00")
                    for y in range(h - 1, -1, -1))
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(rows), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + len(rows), 0, 0, 54) + info + rows


def tiff_bytes(gray):
    """Uncompressed 8-bit grey baseline TIFF, little-endian, one strip."""
    h, w = gray.shape
    data = gray.astype("u1").tobytes()
    entries = [(256, 3, 1, w), (257, 3, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (277, 3, 1, 1), (278, 3, 1, h), (279, 4, 1, len(data))]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHI", tag, kind, count) + (
            struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8 + len(data)) + data + ifd


# (row, column) in zigzag order: odd anti-diagonals downwards, even ones upwards.
ZIGZAG = sorted(((r, c) for r in range(8) for c in range(8)),
                key=lambda p: (p[0] + p[1], p[0] if (p[0] + p[1]) % 2 else p[1]))


def jpeg_bytes(gray, quality_step=8):
    """Baseline grey JPEG (sides multiples of 8). One flat quantization table; Huffman tables
    of our own (all 12 DC categories in 4 bits, all 162 AC symbols in 8 bits): any valid table
    will do, the decoder reads them from the file."""
    h, w = gray.shape
    dc_symbols = list(range(12))
    ac_symbols = [0x00, 0xF0] + [(run << 4) | size for run in range(16) for size in range(1, 11)]
    dc_code = {s: (i, 4) for i, s in enumerate(dc_symbols)}
    ac_code = {s: (i, 8) for i, s in enumerate(ac_symbols)}
    n = np.arange(8)
    basis = np.cos((2 * n[None, :] + 1) * n[:, None] * np.pi / 16)
    scale = np.where(n == 0, np.sqrt(0.5), 1.0)
    bits = []

    def put(value, length):
        bits.extend((value >> (length - 1 - i)) & 1 for i in range(length))

    def magnitude(v):
        size = int(abs(v)).bit_length()
        return size, (v if v >= 0 else v + (1 << size) - 1)

    previous_dc = 0
    for by in range(0, h, 8):
        for bx in range(0, w, 8):
            block = gray[by:by + 8, bx:bx + 8].astype(float) - 128
            coef = np.outer(scale, scale) / 4 * (basis @ block @ basis.T)
            q = [int(round(coef[y, x] / quality_step)) for (y, x) in ZIGZAG]
            size, value = magnitude(q[0] - previous_dc)
            previous_dc = q[0]
            put(*dc_code[size])
            put(value, size)
            run = 0
            for v in q[1:]:
                if v == 0:
                    run += 1
                    continue
                while run > 15:
                    put(*ac_code[0xF0])
                    run -= 16
                size, value = magnitude(v)
                put(*ac_code[(run << 4) | size])
                put(value, size)
                run = 0
            if run:
                put(*ac_code[0x00])
    bits.extend([1] * (-len(bits) % 8))
    scan = bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))
    scan = scan.replace(b"\xff", b"\xff\x00")

    def segment(marker, body):
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    def dht(table_class, symbols, length):
        counts = [0] * 16
        counts[length - 1] = len(symbols)
        return bytes([table_class << 4]) + bytes(counts) + bytes(symbols)

    out = b"\xff\xd8"
    out += segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += segment(0xDB, b"\x00" + bytes([quality_step] * 64))
    out += segment(0xC0, struct.pack(">BHHB", 8, h, w, 1) + b"\x01\x11\x00")
    out += segment(0xC4, dht(0, dc_symbols, 4) + dht(1, ac_symbols, 8))
    out += segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return out + scan + b"\xff\xd9"


def pgm_bytes(gray):
    h, w = gray.shape
    return b"P5\n%d %d\n255\n" % (w, h) + gray.astype("u1").tobytes()


def projection_header(flags=0, factor=28, min_pixels=4 * 28 * 28, max_pixels=0, offset=0,
                      text=0.0, grid=(0, 0, 0), keys=1024):
    """The 43-byte option block of fuzz_saliency_image.cpp."""
    return struct.pack("<BIQQId3HI", flags, factor, min_pixels, max_pixels, offset, text, *grid,
                       keys - 1)


# --- the corpus --------------------------------------------------------------------------------

def corpus_npy():
    a = attention(3, 5, 7)
    return {
        "f4_hqk.npy": npy_bytes(a.astype("<f4")),
        "f2_qk.npy": npy_bytes(a[0].astype("<f2")),
        "f8_lhqk.npy": npy_bytes(attention(2, 2, 3, 4)),
        "f4_big_endian.npy": npy_bytes(a[:2].astype(">f4")),
        "f2_big_endian.npy": npy_bytes(a[0].astype(">f2")),
        "f4_v2.npy": npy_bytes(a[1].astype("<f4"), version=(2, 0)),
        "f4_v3.npy": npy_bytes(a[2].astype("<f4"), version=(3, 0)),
        "f4_scalar.npy": npy_bytes(np.float32(0.5)),
        "f4_lhqk_stacked.npy": npy_bytes(attention(2, 1, 2, 3, 3).astype("<f4")),
        "i4_refused.npy": npy_bytes(np.arange(6, dtype="<i4").reshape(2, 3)),
        "f4_fortran_refused.npy": npy_bytes(np.asfortranarray(a[0].astype("<f4"))),
        "f4_truncated.npy": npy_bytes(a.astype("<f4"))[:-10],
    }


def corpus_tensor_file():
    files = {name: data for name, data in corpus_npy().items()
             if name in ("f4_hqk.npy", "f2_qk.npy", "f8_lhqk.npy", "f4_big_endian.npy",
                         "f4_lhqk_stacked.npy")}
    layers = [("layer_%d" % i, attention(2, 3, 5).astype("<f4")) for i in (2, 0, 1)]
    files["npz_stored_layers.npz"] = npz_bytes(layers)
    files["npz_deflated_layers.npz"] = npz_bytes(
        [("model.layers.%d" % i, attention(1, 2, 4, 6).astype("<f2")) for i in range(3)],
        zipfile.ZIP_DEFLATED)
    files["npz_deflated_one.npz"] = npz_bytes([("attentions", attention(3, 2, 4, 5))],
                                              zipfile.ZIP_DEFLATED)
    files["npz_zip64.npz"] = npz_bytes([("arr_0", attention(2, 3, 4).astype("<f4"))],
                                       zip64=True)
    per_layer = attention(3, 1, 2, 4, 6)
    for dtype in ("F16", "BF16", "F32", "F64"):
        files["st_%s_layers.safetensors" % dtype.lower()] = safetensors_bytes(
            [("attentions.%d" % i, dtype, per_layer[i].shape, st_raw(per_layer[i], dtype))
             for i in range(3)])
    stacked = attention(2, 1, 2, 3, 5)
    files["st_bf16_stacked.safetensors"] = safetensors_bytes(
        [("attentions", "BF16", stacked.shape, st_raw(stacked, "BF16"))],
        metadata={"format": "pt"})
    return files


def corpus_dump_meta():
    def seed(keys, queries, sidecar):
        return struct.pack("<HH", keys - 1, queries - 1) + json.dumps(sidecar).encode()

    tokens = ["<|im_start|>", "user", "\n", "<|vision_start|>"] + ["<|image_pad|>"] * 12 + [
        "<|vision_end|>", "Where", " is", " the", " ball", "?"]
    k = len(tokens)
    full = {"tokens": tokens, "vision_start": 4, "image_grid_thw": [1, 6, 8],
            "spatial_merge_size": 2, "image": "photo.png", "query_positions": [18, 19, 20],
            "kind": "attention", "model": "Qwen/Qwen2-VL-2B-Instruct",
            "prompt": "Where is the ball?"}
    return {
        "full.json": seed(k, 3, full),
        "grid_only.json": seed(64, 64, {"vision_start": 8, "image_grid_thw": [2, 4, 4]}),
        "merge_one.json": seed(40, 8, {"vision_start": 0, "image_grid_thw": [1, 5, 6],
                                       "spatial_merge_size": 1, "kind": "logits"}),
        "tokens_only.json": seed(5, 5, {"tokens": ["a", "b", "\u00e9", "\\u0000", ""]}),
        "null_image.json": seed(16, 4, {"image": None, "query_positions": None, "extra": [1, {}]}),
        "beyond_keys.json": seed(10, 2, {"vision_start": 6, "image_grid_thw": [1, 4, 6]}),
        "missing_image.json": seed(8, 8, {"image": "../nowhere/photo.png"}),
        "not_json.json": seed(8, 8, {"tokens": 1})[:-3],
    }


def corpus_saliency_image():
    y, x = np.mgrid[0:12, 0:16]
    gray = (255 * np.exp(-((x - 10.0) ** 2 + (y - 5.0) ** 2) / 12)).astype(np.uint8)
    rgb = np.stack([gray, 255 - gray, (x * 16).astype(np.uint8)], axis=-1)
    rgba = np.concatenate([rgb, np.full((12, 16, 1), 200, np.uint8)], axis=-1)
    palette = [v for i in range(4) for v in (i * 80, 255 - i * 80, 40)]
    small = gray[:8, :8]
    images = {
        "png_gray8": png_bytes(gray, 0),
        "png_gray16": png_bytes(gray.astype(np.uint16) * 257, 0, 16),
        "png_rgba": png_bytes(rgba, 6),
        "png_palette": png_bytes((gray // 64).astype(np.uint8), 3, palette=palette),
        "bmp_rgb": bmp_bytes(rgb[:6, :10]),
        "jpeg_gray": jpeg_bytes(gray[:8, :16]),
        "tiff_gray": tiff_bytes(gray[:6, :9]),
        "pgm_gray": pgm_bytes(small),
    }
    headers = {
        "default": projection_header(),
        "grid": projection_header(flags=1, grid=(1, 3, 4), offset=2, keys=20),
        "video": projection_header(flags=1, grid=(2, 2, 2), keys=8, text=-0.5),
        "max_pixels": projection_header(factor=32, min_pixels=0, max_pixels=64 * 64, keys=16),
        "from_keys": projection_header(flags=2, factor=14, keys=40, offset=3),
    }
    names = list(headers)
    return {"%s_%s" % (image, names[i % len(names)]): headers[names[i % len(names)]] + data
            for i, (image, data) in enumerate(images.items())}


def corpus_cli_options():
    lines = [
        "metrics --heads 4 --queries 16 --keys 128 --lambda 0.5 --eps 1e-9 --json",
        "metrics --attention dump.safetensors --layer -1 --per-head --steer-heads 0,2",
        "metrics --logits dump.npz --meta dump.json --layer all --normalize zscore",
        "sweep --lambdas 0,0.25,0.5,1 --seeds 0:3 --csv out.csv --force --threads 2",
        "project --saliency-image map.png --image-grid 1x4x6 --vision-offset 3 --keys 40",
        "project --saliency-image map.png --patch-factor 32 --min-pixels 0 --max-pixels 4096",
        "plot --out plots --width 400 --height 300 --head 1 --query 2 --sort-by-saliency "
        "--difference --seed 7",
        "attention-bench --heads 2 --queries 64 --keys 64 --head-dim 16 --causal --dtype bf16 "
        "--repetitions 2 --backend cpu",
        "metrics --saliency s.npy --text-saliency -1 --logit-std 2.5 --backend auto",
        "--help",
        "sweep --help",
        "--version",
        "metrics --keys=0x10 --lambda=+inf",
        "frobnicate",
    ]
    return {"line_%02d" % i: line.encode().replace(b" ", b"\x00") for i, line in enumerate(lines)}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    targets = {
        "fuzz_npy": corpus_npy(),
        "fuzz_tensor_file": corpus_tensor_file(),
        "fuzz_dump_meta": corpus_dump_meta(),
        "fuzz_saliency_image": corpus_saliency_image(),
        "fuzz_cli_options": corpus_cli_options(),
    }
    total = 0
    for target, files in targets.items():
        folder = os.path.join(out, target)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for name, data in files.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
            total += len(data)
    print("make-corpus: %d files, %d bytes in %s" %
          (sum(len(f) for f in targets.values()), total, out))


if __name__ == "__main__":
    main()
