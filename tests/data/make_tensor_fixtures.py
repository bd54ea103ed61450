#!/usr/bin/python3
"""Writes the fixtures of tst_tensor_file into the folder given as the only argument.

One seeded float64 tensor X of shape [L, H, Q, K] = [12, 3, 5, 7] (with special values: zeros,
infinities, NaN, float16 subnormals and overflows, bfloat16 ties) is written in every container
(.npy, .npz by np.savez and np.savez_compressed, .safetensors written by hand), dtype (float16,
bfloat16, float32, float64, big-endian too) and layout ([Q,K], [H,Q,K], [L,H,Q,K], [L,1,H,Q,K],
one array per layer in shuffled order). Beside them, the float32 values each dtype must read as,
converted by numpy ('<f4' .npy files), and the files of the error cases.

Run with Debian's /usr/bin/python3 (python3-numpy); nothing else is needed.
"""

import io
import json
import os
import struct
import sys
import warnings
import zipfile
import zlib

import numpy as np

L, H, Q, K = 12, 3, 5, 7


def seeded_tensor():
    rng = np.random.default_rng(20240611)
    x = rng.standard_normal((L, H, Q, K)) * 3.0
    flat = x.reshape(-1)
    specials = [
        0.0, -0.0, np.inf, -np.inf, np.nan,
        1e-6,               # float16 subnormal
        -3e-8,              # float16 subnormal, rounds
        70000.0,            # float16 overflow: inf
        65504.0,            # float16 max
        1.0 + 2.0**-8,      # bfloat16 tie: rounds to even (1.0)
        1.0 + 3 * 2.0**-8,  # bfloat16 tie: rounds to even (1 + 2^-6)
        1e-40,              # float32 subnormal
        3.4e38,             # float32 finite, bfloat16 overflow: inf
        2.0**-24,           # smallest float16 subnormal
        -0.1, 1.0 / 3.0,
    ]
    flat[: len(specials)] = specials
    return x


def bfloat16_bits(values32):
    """float32 -> bfloat16 bits, round to nearest even, NaN -> 0x7fc0 (as PyTorch)."""
    u = values32.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(np.isnan(values32), np.uint16(0x7FC0), rounded)


def bfloat16_to_float32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def save_npy(path, array, version=None):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version)


def npy_bytes(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=(1, 0))
    return buf.getvalue()


def write_safetensors(path, tensors, metadata=None):
    """TENSORS: (name, dtype string, shape, raw bytes) in the order their data is written."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def write_zip64(path, members):
    """A stored zip with every ZIP64 record: local and central sizes and offsets 0xffffffff with
    the ZIP64 extra field, a ZIP64 end record and locator (what zipfile writes beyond 4 GiB)."""
    out = b""
    central = b""
    for name, raw in members:
        name = name.encode()
        crc = zlib.crc32(raw)
        offset = len(out)
        local_extra = struct.pack("<HHQQ", 1, 16, len(raw), len(raw))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc,
                           0xFFFFFFFF, 0xFFFFFFFF, len(name), len(local_extra))
        out += name + local_extra + raw
        extra = struct.pack("<HHQQQ", 1, 24, len(raw), len(raw), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc,
                               0xFFFFFFFF, 0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0,
                               0xFFFFFFFF)
        central += name + extra
    directory_offset = len(out)
    out += central
    record_offset = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(members), len(members),
                       len(central), directory_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, record_offset, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(out)


def write_zip(path, members, method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, raw in members:
            z.writestr(name, raw)


class Unseekable(io.RawIOBase):
    """A write-only stream without seek: zipfile then writes data descriptors (flag bit 3)."""

    def __init__(self):
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.data += b
        return len(b)


def main(out):
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")

    x = seeded_tensor()
    x32 = x.astype("<f4")
    bf16 = bfloat16_bits(x32)
    expected = {
        "f2": x.astype("<f2").astype("<f4"),
        "f4": x32,
        "bf16": bfloat16_to_float32(bf16),
    }
    for tag, values in expected.items():
        save_npy(p(f"expected_{tag}.npy"), values)

    # Every float16 bit pattern as numpy converts it.
    save_npy(p("half_table.npy"), np.arange(65536, dtype=np.uint16).view("<f2").astype("<f4"))

    # .npy: dtype x layout.
    dtypes = {"f2": "<f2", "f4": "<f4", "f8": "<f8", "bf2": ">f2", "bf4": ">f4", "bf8": ">f8"}
    for tag, dtype in dtypes.items():
        a = x.astype(dtype)
        save_npy(p(f"npy_qk_{tag}.npy"), a[0, 0])
        save_npy(p(f"npy_hqk_{tag}.npy"), a[0])
        save_npy(p(f"npy_lhqk_{tag}.npy"), a)
        save_npy(p(f"npy_l1hqk_{tag}.npy"), a[:, None])
        save_npy(p(f"npy_1hqk_{tag}.npy"), a[:1])
    save_npy(p("npy_lhqk_f2_v2.npy"), x.astype("<f2"), version=(2, 0))
    save_npy(p("npy_lhqk_f4_v3.npy"), x32, version=(3, 0))

    # .npz: one array, and one array per layer written in an order that is neither the layers'
    # nor the names' lexicographic one (attentions.10 before attentions.2).
    order = [7, 10, 2, 0, 11, 5, 1, 9, 3, 8, 6, 4]
    assert sorted(order) == list(range(L))
    for tag in ("f2", "f4"):
        a = x.astype(dtypes[tag])
        np.savez(p(f"npz_whole_{tag}.npz"), attentions=a)
        np.savez_compressed(p(f"npzc_whole_{tag}.npz"), attentions=a)
    per_layer = lambda a, name, view: {name.format(i): view(a[i]) for i in order}
    np.savez(p("npz_layers_f2.npz"), **per_layer(x.astype("<f2"), "attentions.{}", lambda v: v))
    np.savez_compressed(p("npzc_layers_f4.npz"),
                        **per_layer(x32, "model.layers.{}", lambda v: v[None]))
    np.savez(p("npz_layers_bf4.npz"), **per_layer(x.astype(">f4"), "layer_{}", lambda v: v))
    np.savez_compressed(p("npzc_layers_f8.npz"), **per_layer(x, "layer_{}", lambda v: v))
    np.savez(p("npz_layers_qk_f4.npz"), **per_layer(x32, "attn{}", lambda v: v[0]))
    write_zip64(p("npz_zip64_f2.npz"),
                [(f"layer_{i}.npy", npy_bytes(x.astype("<f2")[i])) for i in order])
    stream = Unseekable()
    np.savez_compressed(stream, attentions=x.astype("<f2"))
    with open(p("npzc_descriptor_f2.npz"), "wb") as f:
        f.write(bytes(stream.data))

    # A compressed member of 3 MiB: inflated in several blocks.
    big = np.random.default_rng(7).standard_normal((12, 4, 64, 256)).astype("<f4")
    np.savez_compressed(p("npzc_big.npz"), attentions=big)
    save_npy(p("expected_big.npy"), big)

    # .safetensors: one tensor, and one per layer in shuffled order (names and data).
    raws = {
        "F16": (x.astype("<f2"), "f2"),
        "BF16": (bf16, "bf16"),
        "F32": (x32, "f4"),
        "F64": (x.astype("<f8"), "f4"),
    }
    metadata = {"format": "pt", "source": "make_tensor_fixtures.py"}
    for dtype, (a, _) in raws.items():
        write_safetensors(p(f"st_whole_{dtype}.safetensors"),
                          [("attentions", dtype, a.shape, a.tobytes())], metadata)
        write_safetensors(p(f"st_layers_{dtype}.safetensors"),
                          [(f"model.layers.{i}", dtype, a[i].shape, a[i].tobytes())
                           for i in order])

    # Errors.
    layer = x32[0]
    np.save(p("err_batch.npy"), np.stack([x32, x32], axis=1))  # [L, 2, H, Q, K]
    np.savez(p("err_gap.npz"), layer_0=layer, layer_1=layer, layer_3=layer)
    np.savez(p("err_duplicate.npz"), layer_0=layer, a_1=layer, b_1=layer)
    np.savez(p("err_shape.npz"), layer_0=layer, layer_1=layer[:, :, :6])
    np.savez(p("err_dtype.npz"), layer_0=layer, layer_1=layer.astype("<f8"))
    np.savez(p("err_no_index.npz"), layer_0=layer, layer_1=layer, mask=layer)
    np.savez(p("err_batch_layers.npz"), layer_0=np.stack([layer, layer]),
             layer_1=np.stack([layer, layer]))
    cut = npy_bytes(layer)[:-320]  # 420 bytes of data needed, 100 left
    write_zip(p("err_truncated_member.npz"), [("layer_0.npy", cut)])
    write_zip(p("err_truncated_deflated.npz"), [("layer_0.npy", cut)], zipfile.ZIP_DEFLATED)
    write_zip(p("err_bzip2.npz"), [("attentions.npy", npy_bytes(layer))], zipfile.ZIP_BZIP2)

    # Corrupt deflate data: the first block header says block type 3 (reserved).
    write_zip(p("err_corrupt.npz"), [("attentions.npy", npy_bytes(layer))], zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(p("err_corrupt.npz")) as z:
        info = z.getinfo("attentions.npy")
    with open(p("err_corrupt.npz"), "r+b") as f:
        f.seek(info.header_offset + 26)
        name_size, extra_size = struct.unpack("<HH", f.read(4))
        f.seek(info.header_offset + 30 + name_size + extra_size)
        f.write(b"\xff")

    # A wrong CRC-32 in both headers; the true one goes to err_crc.txt for the message.
    raw = npy_bytes(layer)
    write_zip(p("err_crc.npz"), [("attentions.npy", raw)], zipfile.ZIP_DEFLATED)
    data = bytearray(open(p("err_crc.npz"), "rb").read())
    true_crc = struct.pack("<I", zlib.crc32(raw))
    assert data.count(true_crc) == 2
    data = data.replace(true_crc, struct.pack("<I", 0x12345678))
    open(p("err_crc.npz"), "wb").write(bytes(data))
    open(p("err_crc.txt"), "w").write("%08x" % zlib.crc32(raw))

    # An archive cut in the middle: no end of central directory record.
    whole = open(p("npz_whole_f4.npz"), "rb").read()
    open(p("err_cut.npz"), "wb").write(whole[: len(whole) // 2])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_tensor_fixtures.py FOLDER")
    main(sys.argv[1])
