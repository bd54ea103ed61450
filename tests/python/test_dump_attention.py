#!/usr/bin/env python3
"""Tests scripts/dump-attention.py's write_dump with readers of its own (numpy only).

Run: /usr/bin/python3 tests/python/test_dump_attention.py   (from any folder)
With ATTNSTEER_CLI set to attnsteer-cli's path, every dump written is also read by
`attnsteer-cli metrics --attention FILE --json`.
"""
import contextlib
import importlib.util
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "dump-attention.py")


def load_script():
    spec = importlib.util.spec_from_file_location("dump_attention", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dump = load_script()


def bf16_reference(value):
    """bfloat16 bits of a float32 VALUE (not NaN) by exact comparison with its two neighbours:
    the truncation and the next bfloat16 away from zero (Inf counting as 2^128)."""
    (u,) = struct.unpack("<I", struct.pack("<f", value))
    low = u >> 16
    if (low & 0x7F80) == 0x7F80:  # Inf
        return low
    high = low + 1
    (below,) = struct.unpack("<f", struct.pack("<I", low << 16))
    if (high & 0x7F80) == 0x7F80:
        above = math.copysign(2.0 ** 128, value)
    else:
        (above,) = struct.unpack("<f", struct.pack("<I", high << 16))
    to_low, to_high = abs(value - below), abs(above - value)  # exact in float64
    if to_low != to_high:
        return low if to_low < to_high else high
    return low if low % 2 == 0 else high


def f32(bits):
    return np.array([bits], dtype=np.uint32).view(np.float32)[0]


def read_safetensors(path):
    """(header dict, {name: (dtype string, shape, raw bytes)}), checking the layout rules."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0, n
    text = blob[8:8 + n].decode("utf-8")
    assert text.rstrip(" ").endswith("}") and len(text) - len(text.rstrip(" ")) < 8, repr(text[-10:])
    header = json.loads(text)
    data = blob[8 + n:]
    arrays = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        arrays[name] = (entry["dtype"], entry["shape"], data[begin:end])
    covered = sorted(tuple(e["data_offsets"]) for k, e in header.items() if k != "__metadata__")
    position = 0
    for begin, end in covered:  # contiguous, no gaps or overlaps, up to the end of the file
        assert begin == position, (begin, position)
        position = end
    assert position == len(data), (position, len(data))
    return header, arrays


def decode(dtype, shape, raw):
    if dtype == "BF16":
        bits = np.frombuffer(raw, dtype="<u2")
        return (bits.astype(np.uint32) << 16).view(np.float32).reshape(shape), bits.reshape(shape)
    numpy_dtype = {"F16": "<f2", "F32": "<f4"}[dtype]
    values = np.frombuffer(raw, dtype=numpy_dtype).reshape(shape)
    return values, values


LAYERS, HEADS, K = 3, 2, 20
TOKENS = ["<|im_start|>", "user", "\n", "Look", "<|vision_start|>"] + ["<|image_pad|>"] * 6 + \
    ["<|vision_end|>", "Where", " is", " the", " ball", "?", "<|im_end|>", "\n", "é"]
VISION_START, THW, MERGE = 5, [1, 4, 6], 2
# Float32 bit patterns in 0..1 exactly halfway between two bfloat16s and next to halfway.
TIE_BITS = [0x3E008000, 0x3E818000, 0x3D808000, 0x3C838000, 0x3E007FFF, 0x3E008001,
            0x3D828000, 0x00008000, 0x00018000, 0x3B7F8000]


def synthetic_attention(seed=7):
    rng = np.random.RandomState(seed)
    layers = []
    for layer in range(LAYERS):
        logits = rng.normal(0.0, 1.0 + layer, size=(1, HEADS, K, K))
        mask = np.triu(np.ones((K, K), dtype=bool), 1)
        logits[..., mask] = -np.inf
        a = np.exp(logits - logits.max(axis=-1, keepdims=True))
        a = (a / a.sum(axis=-1, keepdims=True)).astype(np.float32)
        layers.append(a)
    # A row of explicit ties in layer 0, head 1, last query, the remainder on the last key.
    row = np.array([f32(b) for b in TIE_BITS], dtype=np.float32)
    layers[0][0, 1, K - 1, :] = 0.0
    layers[0][0, 1, K - 1, :len(row)] = row
    layers[0][0, 1, K - 1, K - 1] = np.float32(1.0) - row.sum(dtype=np.float32)
    return layers


class Bfloat16Rounding(unittest.TestCase):
    def test_ties_to_even_and_specials(self):
        cases = {
            0x3F808000: 0x3F80,  # 1 + 2^-8: halfway, 0x3F80 even -> down
            0x3F818000: 0x3F82,  # halfway, 0x3F81 odd -> up
            0x3F808001: 0x3F81, 0x3F807FFF: 0x3F80,
            0xBF808000: 0xBF80, 0xBF818000: 0xBF82,  # negative ties
            0x00008000: 0x0000, 0x00018000: 0x0002,  # subnormals
            0x7F7FFFFF: 0x7F80, 0xFF7FFFFF: 0xFF80,  # past the largest bfloat16: Inf
            0x7F7F7FFF: 0x7F7F,
            0x7F800000: 0x7F80, 0xFF800000: 0xFF80, 0x80000000: 0x8000, 0: 0,
        }
        values = np.array(list(cases), dtype=np.uint32).view(np.float32)
        got = dump.float32_to_bfloat16_bits(values)
        for (bits, expected), result in zip(cases.items(), got):
            self.assertEqual(int(result), expected, f"0x{bits:08X}")
            ref = bf16_reference(float(np.array([bits], np.uint32).view(np.float32)[0]))
            self.assertEqual(ref, expected, f"reference 0x{bits:08X}")

    def test_nan_stays_nan(self):
        nans = np.array([0x7FC00000, 0x7F800001, 0xFFFFFFFF, 0x7FFFFFFF], np.uint32).view(np.float32)
        got = dump.float32_to_bfloat16_bits(nans)
        self.assertEqual([int(v) for v in got], [0x7FC0, 0x7FC0, 0xFFC0, 0x7FC0])

    def test_random_against_reference(self):
        rng = np.random.RandomState(3)
        bits = rng.randint(0, 2 ** 32, size=20000, dtype=np.uint64).astype(np.uint32)
        bits = bits[(bits & 0x7F800000) != 0x7F800000]  # no NaN/Inf here
        values = bits.view(np.float32)
        got = dump.float32_to_bfloat16_bits(values)
        for value, result in zip(values[:4000], got[:4000]):
            self.assertEqual(int(result), bf16_reference(float(value)), repr(value))


class WriteDump(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()
        self.dir = self.folder.name
        self.image = os.path.join(self.dir, "pictures", "photo.png")
        os.makedirs(os.path.dirname(self.image))
        with open(self.image, "wb") as f:
            f.write(b"not really a png")
        os.makedirs(os.path.join(self.dir, "dumps"))
        self.attention = synthetic_attention()

    def tearDown(self):
        self.folder.cleanup()

    def write(self, name="dumps/d", **options):
        arguments = dict(attentions=self.attention, tokens=TOKENS, vision_start=VISION_START,
                         image_grid_thw=THW, spatial_merge_size=MERGE, image_path=self.image)
        arguments.update(options)
        return dump.write_dump(os.path.join(self.dir, name), **arguments)

    def check_sidecar(self, json_path, **expected):
        with open(json_path, encoding="utf-8") as f:
            sidecar = json.load(f)
        self.assertEqual(sidecar["tokens"], TOKENS)
        self.assertEqual(sidecar["vision_start"], VISION_START)
        self.assertEqual(sidecar["image_grid_thw"], THW)
        self.assertEqual(sidecar["spatial_merge_size"], MERGE)
        self.assertEqual(sidecar["image"], "../pictures/photo.png")
        self.assertTrue(os.path.samefile(
            os.path.join(os.path.dirname(json_path), sidecar["image"]), self.image))
        self.assertEqual(sidecar.get("kind"), "attention")
        for key, value in expected.items():
            self.assertEqual(sidecar[key], value)
        return sidecar

    def run_cli(self, path):
        cli = os.environ.get("ATTNSTEER_CLI")
        if not cli:
            return
        result = subprocess.run([cli, "metrics", "--attention", path, "--json"],
                                capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.loads(result.stdout)
        self.assertIsInstance(report.get("layers"), list, result.stdout[:500])
        self.assertEqual(len(report["layers"]), LAYERS)

    def no_temporaries(self):
        for _, _, files in os.walk(self.dir):
            self.assertEqual([f for f in files if f.endswith(".tmp")], [])

    def test_safetensors_each_dtype(self):
        for dtype, code, item in (("bfloat16", "BF16", 2), ("float16", "F16", 2), ("float32", "F32", 4)):
            with self.subTest(dtype=dtype):
                dump_path, json_path = self.write(f"dumps/st-{dtype}", dtype=dtype,
                                                  metadata={"note": "test"}, model="m", prompt="p?")
                self.assertEqual(dump_path, os.path.join(self.dir, "dumps", f"st-{dtype}.safetensors"))
                self.assertEqual(json_path, os.path.join(self.dir, "dumps", f"st-{dtype}.json"))
                header, arrays = read_safetensors(dump_path)
                self.assertEqual(header["__metadata__"],
                                 {"format": "attnsteer-dump", "kind": "attention", "note": "test"})
                self.assertEqual(sorted(arrays), [f"attentions.{i}" for i in range(LAYERS)])
                for i in range(LAYERS):
                    code_read, shape, raw = arrays[f"attentions.{i}"]
                    self.assertEqual((code_read, shape), (code, [1, HEADS, K, K]))
                    self.assertEqual(len(raw), HEADS * K * K * item)
                    self.assertEqual(header[f"attentions.{i}"]["data_offsets"][0],
                                     i * HEADS * K * K * item)
                    values, bits = decode(code_read, shape, raw)
                    source = self.attention[i]
                    if dtype == "bfloat16":
                        expected = np.array([bf16_reference(float(v)) for v in source.ravel()],
                                            dtype=np.uint16).reshape(source.shape)
                        np.testing.assert_array_equal(bits, expected)
                    elif dtype == "float16":
                        np.testing.assert_array_equal(values, source.astype(np.float16))
                    else:
                        np.testing.assert_array_equal(values, source)
                    self.assertTrue(np.all(values[..., np.triu(np.ones((K, K), bool), 1)] == 0))
                    np.testing.assert_allclose(values.astype(np.float64).sum(-1), 1.0, atol=2e-2)
                # the tie row, bit by bit
                _, bits = decode(*arrays["attentions.0"])
                if dtype == "bfloat16":
                    row = [int(b) for b in bits[0, 1, K - 1, :len(TIE_BITS)]]
                    self.assertEqual(row, [0x3E00, 0x3E82, 0x3D80, 0x3C84, 0x3E00, 0x3E01,
                                           0x3D82, 0x0000, 0x0002, 0x3B80])
                self.check_sidecar(json_path, model="m", prompt="p?")
                self.run_cli(dump_path)
        self.no_temporaries()

    def test_npz_each_dtype(self):
        for dtype in ("float16", "float32"):
            with self.subTest(dtype=dtype):
                dump_path, json_path = self.write(f"dumps/np-{dtype}", fmt="npz", dtype=dtype)
                self.assertTrue(dump_path.endswith(f"np-{dtype}.npz"))
                with np.load(dump_path) as archive:
                    self.assertEqual(sorted(archive.files), [f"attentions.{i}" for i in range(LAYERS)])
                    for i in range(LAYERS):
                        array = archive[f"attentions.{i}"]
                        self.assertEqual(array.dtype, np.dtype(dtype))
                        self.assertEqual(array.shape, (1, HEADS, K, K))
                        np.testing.assert_array_equal(array, self.attention[i].astype(dtype))
                with open(dump_path, "rb") as f:  # compressed members (deflate, method 8)
                    self.assertEqual(f.read(4), b"PK\x03\x04")
                    f.seek(8)
                    self.assertEqual(struct.unpack("<H", f.read(2))[0], 8)
                self.check_sidecar(json_path)
                self.run_cli(dump_path)
        self.no_temporaries()

    def test_three_dimensional_layers_and_query_positions(self):
        rows = [3, 11, 19]
        layers = [a[0][:, rows, :] for a in self.attention]  # [H, 3, K]
        dump_path, json_path = self.write("dumps/rows", attentions=layers, query_positions=rows,
                                          layer_indices=[0, 5, 27], dtype="float32")
        header, arrays = read_safetensors(dump_path)
        self.assertEqual(arrays["attentions.2"][1], [1, HEADS, 3, K])
        sidecar = self.check_sidecar(json_path, query_positions=rows, model_layers=[0, 5, 27])
        self.assertNotIn("model", sidecar)

    def test_stem_with_extension_and_logits(self):
        logits = [np.log(a + 1e-6) for a in self.attention]
        dump_path, json_path = self.write("dumps/l.safetensors", attentions=logits, kind="logits",
                                          dtype="float32")
        self.assertTrue(dump_path.endswith("dumps/l.safetensors"))
        self.assertTrue(json_path.endswith("dumps/l.json"))
        header, _ = read_safetensors(dump_path)
        self.assertEqual(header["__metadata__"]["kind"], "logits")
        with open(json_path) as f:
            self.assertEqual(json.load(f)["kind"], "logits")

    def test_refuses_to_overwrite(self):
        dump_path, json_path = self.write()
        with open(dump_path, "rb") as f:
            before = f.read()
        for existing in (dump_path, json_path):
            with self.subTest(existing=existing):
                other = json_path if existing == dump_path else dump_path
                os.rename(other, other + ".away")
                with self.assertRaisesRegex(FileExistsError, "exists.*overwrite=True"):
                    self.write(dtype="float32")
                self.assertFalse(os.path.exists(other))
                os.rename(other + ".away", other)
        with open(dump_path, "rb") as f:
            self.assertEqual(f.read(), before)
        self.write(dtype="float32", overwrite=True)
        with open(dump_path, "rb") as f:
            self.assertNotEqual(f.read(), before)
        self.no_temporaries()

    def test_errors(self):
        a = self.attention
        bad_sum = [x.copy() for x in a]
        bad_sum[1][0, 0, 4, :] *= 1.5
        negative = [x.copy() for x in a]
        negative[2][0, 1, 7, 0] = -0.25
        negative[2][0, 1, 7, 1] += 0.25
        nan = [x.copy() for x in a]
        nan[0][0, 0, 9, 3] = np.nan
        big = [np.full((1, HEADS, K, K), 1e6, np.float32) for _ in a]
        cases = [
            (dict(attentions=[]), r"attentions is empty"),
            (dict(attentions=[a[0][0, 0]]), r"attentions\[0\]: shape \[20, 20\], expected \[1,H,Q,K\]"),
            (dict(attentions=[np.concatenate([a[0], a[0]])]), r"batch size 2"),
            (dict(attentions=[a[0], a[1][:, :, :, :10]]),
             r"attentions\[1\]: shape \[1,2,20,10\] differs from attentions\[0\]'s \[1,2,20,20\]"),
            (dict(attentions=[(x * 1000).astype(np.int32) for x in a]), r"expected a floating-point"),
            (dict(tokens=TOKENS[:-1]), r"tokens has 19 entries but the attention has K = 20 keys"),
            (dict(tokens=TOKENS[:-1] + [7]), r"tokens must be a list of strings"),
            (dict(vision_start=-1), r"vision_start must be an int >= 0"),
            (dict(vision_start=2.0), r"vision_start must be an int >= 0"),
            (dict(vision_start=15), r"vision tokens \(keys 15 \.\. 20, 1 x 2 x 3\) do not fit in K = 20"),
            (dict(image_grid_thw=[4, 6]), r"image_grid_thw must be three ints"),
            (dict(image_grid_thw=[1, 0, 6]), r"image_grid_thw must be three ints"),
            (dict(image_grid_thw=[1, 5, 6]), r"h = 5 and w = 6 must be divisible by spatial_merge_size 2"),
            (dict(image_grid_thw=[1, 4, 6], spatial_merge_size=4), r"divisible by spatial_merge_size 4"),
            (dict(spatial_merge_size=0), r"spatial_merge_size must be an int >= 1"),
            (dict(query_positions=list(range(19))), r"query_positions has 19 entries but .* Q = 20"),
            (dict(query_positions=list(range(19)) + [20]), r"query_positions: 20 is not a key index in 0 \.\. 19"),
            (dict(fmt="hdf5"), r"fmt must be one of safetensors, npz"),
            (dict(dtype="float64"), r"dtype must be one of bfloat16, float16, float32"),
            (dict(fmt="npz"), r"npz cannot hold bfloat16"),
            (dict(kind="scores"), r"kind must be one of attention, logits"),
            (dict(attentions=bad_sum), r"attentions\[1\]: rows do not sum to 1 \(off by up to 0\.5"),
            (dict(attentions=[x * 1.01 for x in a], dtype="float32"), r"allowed 0\.001 in float32"),
            (dict(attentions=negative), r"attentions\[2\]: negative values"),
            (dict(attentions=nan, dtype="float32"), r"attentions\[0\]: holds NaN or Inf as float32"),
            (dict(attentions=big, kind="logits", dtype="float16"), r"holds NaN or Inf as float16"),
            (dict(metadata={"n": 3}), r"metadata must map strings to strings"),
            (dict(metadata={"format": "other"}), r"metadata 'format' is reserved"),
            (dict(layer_indices=[0, 1]), r"layer_indices must be 3 ints"),
            (dict(image_path=os.path.join(self.dir, "missing.png")), r"missing\.png: no such image file"),
            (dict(name="nowhere/d"), r"nowhere: no such folder"),
            (dict(name="dumps/d.npz"), r"ends in \.npz but fmt is safetensors"),
        ]
        for options, message in cases:
            with self.subTest(message=message):
                with self.assertRaisesRegex(ValueError, message):
                    self.write(**options)
                self.assertEqual(os.listdir(os.path.join(self.dir, "dumps")), [])

    def test_command_line_without_torch(self):
        with self.assertRaises(SystemExit) as stop, contextlib.redirect_stdout(io.StringIO()) as out:
            dump.main(["--help"])
        self.assertEqual(stop.exception.code, 0)
        self.assertIn("--layers", out.getvalue())
        arguments = ["--image", self.image, "--prompt", "Where?", "--out",
                     os.path.join(self.dir, "dumps", "cli")]
        with mock.patch.dict(sys.modules, {"torch": None, "transformers": None, "PIL": None}):
            with self.assertRaises(SystemExit) as stop:
                dump.main(arguments)
        self.assertIn("pip install torch transformers pillow", str(stop.exception.code))
        with self.assertRaises(SystemExit) as stop, contextlib.redirect_stderr(io.StringIO()) as err:
            dump.main(arguments + ["--format", "npz", "--dtype", "bfloat16"])
        self.assertEqual(stop.exception.code, 2)
        self.assertIn("npz cannot hold bfloat16", err.getvalue())
        self.write("dumps/cli")
        with self.assertRaises(SystemExit) as stop, contextlib.redirect_stderr(io.StringIO()) as err:
            dump.main(arguments)
        self.assertIn("exists (--force replaces it)", err.getvalue())


class FakeTensor:
    """Just what main() uses of a torch tensor."""

    def __init__(self, array):
        self.array = np.asarray(array)

    def __getitem__(self, index):
        return FakeTensor(self.array[index])

    def tolist(self):
        return self.array.tolist()

    def float(self):
        return FakeTensor(self.array.astype(np.float32))

    def cpu(self):
        return self

    def numpy(self):
        return self.array


def fake_modules(calls):
    """torch, transformers and PIL stand-ins with the parts of their API main() uses: a 'model'
    of 4 layers whose input is 3 text tokens, 6 image pads (grid [1, 4, 6], merge 2), 2 more."""
    import types

    pad = 151655
    ids = [151644, 872, 151652] + [pad] * 6 + [151653, 3555]
    torch = types.ModuleType("torch")
    torch.bfloat16, torch.float32 = "bf16", "f32"
    torch.cuda = types.SimpleNamespace(is_available=lambda: False)
    torch.no_grad = contextlib.nullcontext

    class Inputs(dict):
        def to(self, device):
            calls["device"] = device
            return self

    class Processor:
        tokenizer = types.SimpleNamespace(
            convert_tokens_to_ids=lambda text: pad if text == "<|image_pad|>" else None,
            decode=lambda token_ids: "<|image_pad|>" if token_ids == [pad] else f"t{token_ids[0]}")

        @staticmethod
        def from_pretrained(name, **options):
            calls["processor"] = (name, options)
            return Processor()

        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            calls["messages"] = messages
            return "chat"

        def __call__(self, text, images, return_tensors):
            calls["images"] = images
            return Inputs(input_ids=FakeTensor([ids]), image_grid_thw=FakeTensor([[1, 4, 6]]))

    class Model:
        config = types.SimpleNamespace(vision_config=types.SimpleNamespace(spatial_merge_size=2))

        @staticmethod
        def from_pretrained(name, **options):
            calls["model"] = (name, options)
            return Model()

        def to(self, device):
            return self

        def eval(self):
            return self

        def __call__(self, **inputs):
            calls["forward"] = sorted(inputs)
            k = len(ids)
            causal = np.tril(np.ones((k, k)))
            layers = [np.broadcast_to(causal / causal.sum(1, keepdims=True),
                                      (1, 2, k, k)) for layer in range(4)]
            return types.SimpleNamespace(attentions=tuple(FakeTensor(a) for a in layers))

    transformers = types.ModuleType("transformers")
    transformers.AutoProcessor = Processor
    transformers.Qwen2VLForConditionalGeneration = Model
    transformers.__version__ = "0.fake"
    pil = types.ModuleType("PIL")
    pil.Image = types.SimpleNamespace(
        open=lambda path: types.SimpleNamespace(convert=lambda mode: ("image", path, mode)))
    return {"torch": torch, "transformers": transformers, "PIL": pil}


class CommandLineWithFakeModel(unittest.TestCase):
    """main()'s glue, against stand-ins for torch and transformers (the real ones are not here)."""

    def test_main(self):
        with tempfile.TemporaryDirectory() as folder:
            image = os.path.join(folder, "photo.jpg")
            open(image, "wb").close()
            calls = {}
            with mock.patch.dict(sys.modules, fake_modules(calls)), \
                    contextlib.redirect_stdout(io.StringIO()) as out:
                dump.main(["--model", "some/qwen", "--image", image, "--prompt", "Where?",
                           "--out", os.path.join(folder, "new", "d"), "--layers", "1,3"])
            self.assertEqual(out.getvalue().split(),
                             [os.path.join(folder, "new", f) for f in ("d.safetensors", "d.json")])
            self.assertEqual(calls["model"], ("some/qwen", {"torch_dtype": "f32",
                                                            "attn_implementation": "eager"}))
            self.assertEqual(calls["processor"], ("some/qwen", {"max_pixels": 401408}))
            self.assertEqual(calls["messages"][0]["content"][1], {"type": "text", "text": "Where?"})
            self.assertEqual(calls["images"], [("image", image, "RGB")])
            self.assertIn("input_ids", calls["forward"])
            header, arrays = read_safetensors(os.path.join(folder, "new", "d.safetensors"))
            self.assertEqual(sorted(arrays), ["attentions.0", "attentions.1"])
            self.assertEqual(arrays["attentions.1"][:2], ("BF16", [1, 2, 11, 11]))
            self.assertEqual(header["__metadata__"]["transformers"], "0.fake")
            with open(os.path.join(folder, "new", "d.json")) as f:
                sidecar = json.load(f)
            self.assertEqual(sidecar["vision_start"], 3)
            self.assertEqual(sidecar["image_grid_thw"], [1, 4, 6])
            self.assertEqual(sidecar["spatial_merge_size"], 2)
            self.assertEqual(sidecar["model_layers"], [1, 3])
            self.assertEqual(sidecar["tokens"][2:10], ["t151652"] + ["<|image_pad|>"] * 6 + ["t151653"])
            self.assertEqual(sidecar["image"], "../photo.jpg")
            self.assertEqual((sidecar["model"], sidecar["prompt"]), ("some/qwen", "Where?"))


class Sample(unittest.TestCase):
    """resources/samples/synthetic-dump.*: consistent with its sidecar."""

    def test_sample(self):
        folder = os.path.join(ROOT, "resources", "samples")
        header, arrays = read_safetensors(os.path.join(folder, "synthetic-dump.safetensors"))
        with open(os.path.join(folder, "synthetic-dump.json"), encoding="utf-8") as f:
            sidecar = json.load(f)
        self.assertIn("synthetic", header["__metadata__"]["description"])
        self.assertIn("not a real model", sidecar["model"])
        self.assertTrue(os.path.isfile(os.path.join(folder, sidecar["image"])))
        t, h, w = sidecar["image_grid_thw"]
        m = sidecar["spatial_merge_size"]
        start = sidecar["vision_start"]
        count = t * (h // m) * (w // m)
        tokens = sidecar["tokens"]
        self.assertEqual(tokens[start - 1], "<|vision_start|>")
        self.assertEqual(tokens[start:start + count], ["<|image_pad|>"] * count)
        self.assertEqual(tokens[start + count], "<|vision_end|>")
        for name, (code, shape, raw) in arrays.items():
            self.assertEqual(code, "BF16")
            self.assertEqual(shape[0], 1)
            self.assertEqual(shape[2:], [len(tokens), len(tokens)])
            values, _ = decode(code, shape, raw)
            values = values.astype(np.float64)
            np.testing.assert_allclose(values.sum(-1), 1.0, atol=2e-2)
            self.assertTrue(np.all(values[..., np.triu(np.ones(shape[2:], bool), 1)] == 0))


if __name__ == "__main__":
    unittest.main()
