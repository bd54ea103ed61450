#!/usr/bin/env python3
"""Dumps a vision-language model's attention for AttnSteer: one image, one prompt, one forward.

On your own machine (a GPU helps; a 2B model also runs on a CPU, slowly), in a virtual environment:

    python3 -m venv ~/attnsteer-venv && . ~/attnsteer-venv/bin/activate
    pip install torch transformers pillow numpy        # transformers >= 4.45 has Qwen2-VL
    python3 scripts/dump-attention.py --model Qwen/Qwen2-VL-2B-Instruct --image photo.jpg \\
        --prompt "Where is the dog?" --out dumps/dog

That writes dumps/dog.safetensors (one [1,H,Q,K] array of attention probabilities per layer, named
attentions.0, attentions.1, ..., in bfloat16) and dumps/dog.json (the tokens, where the vision
tokens are and their grid, the image's path relative to the JSON file). Open them in AttnSteer
(attnsteer-cli metrics --attention dumps/dog.safetensors). Options: --format npz (float16 or
float32; numpy has no bfloat16), --dtype bfloat16|float16|float32, --layers 0,5,27 (only those
layers, stored as attentions.0, .1, .2; the sidecar's "model_layers" keeps the model's indices),
--max-pixels N (the processor's image budget: at most about N / 784 vision tokens; the default
401408 keeps the dump to a few hundred MB for the 2B model), --force (replace existing files).
The model runs with attn_implementation="eager", the only one that returns attention weights, in
bfloat16 on a GPU (float32 with --dtype float32, or on a CPU).

write_dump() is the model-free part (numpy only): import it to write a dump of any model's
attention (with importlib, as the file name has a dash; see resources/samples/make-samples.py).
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

FORMATS = ("safetensors", "npz")
DTYPES = ("bfloat16", "float16", "float32")
KINDS = ("attention", "logits")
SAFETENSORS_DTYPE = {"bfloat16": "BF16", "float16": "F16", "float32": "F32"}
# What AttnSteer accepts as a probability row's sum, by stored dtype.
ROW_SUM_TOLERANCE = {"bfloat16": 2e-2, "float16": 2e-2, "float32": 1e-3}


def float32_to_bfloat16_bits(values):
    """bfloat16 bit patterns (uint16) of VALUES rounded to nearest, ties to even, as PyTorch
    stores them: the upper 16 bits of the float32 after adding 0x7FFF plus the lowest kept bit.
    NaN becomes the quiet NaN 0x7FC0 (sign kept); values past the largest bfloat16 become Inf."""
    f32 = np.ascontiguousarray(values, dtype=np.float32)
    u = f32.view(np.uint32).astype(np.uint64)  # no wrap-around for negative NaNs
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(f32)
    if nan.any():
        sign = ((f32.view(np.uint32) >> 16) & 0x8000).astype(np.uint16)
        rounded = np.where(nan, sign | np.uint16(0x7FC0), rounded).astype(np.uint16)
    return rounded


def _encode(array, dtype):
    """ARRAY (float) as little-endian bytes of DTYPE, and the values as stored (float64)."""
    if dtype == "bfloat16":
        bits = float32_to_bfloat16_bits(array)
        stored = (bits.astype(np.uint32) << 16).view(np.float32)
        return bits.astype("<u2"), stored.astype(np.float64)
    with np.errstate(over="ignore"):  # out of range becomes Inf, reported by _check_values
        out = np.ascontiguousarray(array, dtype=np.float16 if dtype == "float16" else np.float32)
    return out.astype(out.dtype.newbyteorder("<")), out.astype(np.float64)


def _check_values(index, stored, dtype, kind):
    if not np.isfinite(stored).all():
        raise ValueError(f"attentions[{index}]: holds NaN or Inf as {dtype}")
    if kind != "attention":
        return
    if (stored < 0).any():
        raise ValueError(f"attentions[{index}]: negative values; attention probabilities are >= 0 "
                         "(pass kind='logits' for pre-softmax scores)")
    sums = stored.sum(axis=-1)
    worst = float(np.abs(sums - 1.0).max())
    if worst > ROW_SUM_TOLERANCE[dtype]:
        raise ValueError(f"attentions[{index}]: rows do not sum to 1 (off by up to {worst:.3g}, "
                         f"allowed {ROW_SUM_TOLERANCE[dtype]:g} in {dtype}); are these "
                         "probabilities? (pass kind='logits' for pre-softmax scores)")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _validate(attentions, tokens, vision_start, image_grid_thw, spatial_merge_size,
              query_positions, fmt, dtype, kind, metadata, layer_indices):
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    if fmt == "npz" and dtype == "bfloat16":
        raise ValueError("npz cannot hold bfloat16 (numpy has no such dtype): "
                         "use dtype float16 or float32, or fmt safetensors")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if len(attentions) == 0:
        raise ValueError("attentions is empty: give one [1,H,Q,K] array per layer")
    layers = []
    for i, layer in enumerate(attentions):
        a = np.asarray(layer)
        if a.ndim == 4 and a.shape[0] != 1:
            raise ValueError(f"attentions[{i}]: batch size {a.shape[0]}, only batch 1 is supported")
        if a.ndim not in (3, 4):
            raise ValueError(f"attentions[{i}]: shape {list(a.shape)}, expected [1,H,Q,K] or [H,Q,K]")
        if not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"attentions[{i}]: dtype {a.dtype}, expected a floating-point array")
        a = a.reshape(a.shape[-3:])
        if 0 in a.shape:
            raise ValueError(f"attentions[{i}]: empty shape {list(a.shape)}")
        if layers and a.shape != layers[0].shape:
            raise ValueError(f"attentions[{i}]: shape [1,{','.join(map(str, a.shape))}] differs "
                             f"from attentions[0]'s [1,{','.join(map(str, layers[0].shape))}]")
        layers.append(a)
    _, queries, keys = layers[0].shape
    if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
        raise ValueError("tokens must be a list of strings")
    if len(tokens) != keys:
        raise ValueError(f"tokens has {len(tokens)} entries but the attention has K = {keys} keys")
    if not _is_int(vision_start) or vision_start < 0:
        raise ValueError(f"vision_start must be an int >= 0, not {vision_start!r}")
    if not _is_int(spatial_merge_size) or spatial_merge_size < 1:
        raise ValueError(f"spatial_merge_size must be an int >= 1, not {spatial_merge_size!r}")
    thw = list(image_grid_thw) if isinstance(image_grid_thw, (list, tuple, np.ndarray)) else None
    if thw is None or len(thw) != 3 or not all(_is_int(v) and v >= 1 for v in thw):
        raise ValueError(f"image_grid_thw must be three ints >= 1 [t, h, w], not {image_grid_thw!r}")
    t, h, w = (int(v) for v in thw)
    m = int(spatial_merge_size)
    if h % m or w % m:
        raise ValueError(f"image_grid_thw h = {h} and w = {w} must be divisible by "
                         f"spatial_merge_size {m}")
    vision_tokens = t * (h // m) * (w // m)
    if vision_start + vision_tokens > keys:
        raise ValueError(f"the vision tokens (keys {vision_start} .. {vision_start + vision_tokens - 1}, "
                         f"{t} x {h // m} x {w // m}) do not fit in K = {keys} keys")
    if query_positions is not None:
        if len(query_positions) != queries:
            raise ValueError(f"query_positions has {len(query_positions)} entries but the attention "
                             f"has Q = {queries} query rows")
        for p in query_positions:
            if not _is_int(p) or not 0 <= p < keys:
                raise ValueError(f"query_positions: {p!r} is not a key index in 0 .. {keys - 1}")
    if metadata is not None:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError(f"metadata must map strings to strings ({key!r}: {value!r})")
        if metadata.get("format", "attnsteer-dump") != "attnsteer-dump":
            raise ValueError("metadata 'format' is reserved (always 'attnsteer-dump')")
    if layer_indices is not None:
        if len(layer_indices) != len(layers) or not all(_is_int(v) and v >= 0 for v in layer_indices):
            raise ValueError(f"layer_indices must be {len(layers)} ints >= 0, one per layer")
    return layers


def _write_safetensors(out, layers, dtype, metadata):
    shape = [1] + list(layers[0].shape)
    nbytes = int(np.prod(shape)) * (2 if dtype in ("bfloat16", "float16") else 4)
    header = {}
    for i in range(len(layers)):
        header[f"attentions.{i}"] = {"dtype": SAFETENSORS_DTYPE[dtype], "shape": shape,
                                     "data_offsets": [i * nbytes, (i + 1) * nbytes]}
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    out.write(len(text).to_bytes(8, "little") + text)
    for i, layer in enumerate(layers):  # one layer in memory at a time
        data, stored = _encode(layer, dtype)
        _check_values(i, stored, dtype, metadata["kind"])
        out.write(data.tobytes())


def _write_npz(out, layers, dtype, kind):
    arrays = {}
    for i, layer in enumerate(layers):
        data, stored = _encode(layer, dtype)
        _check_values(i, stored, dtype, kind)
        arrays[f"attentions.{i}"] = data.reshape((1,) + data.shape)
    np.savez_compressed(out, **arrays)


def _write_via_temporary(path, write):
    """Calls write(file) on a temporary file beside PATH; returns the temporary's path."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".",
                                         prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it 0600; a new file's usual mode
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary


def write_dump(path_stem, attentions, tokens, vision_start, image_grid_thw, spatial_merge_size=2,
               image_path=None, query_positions=None, fmt="safetensors", dtype="bfloat16",
               metadata=None, kind="attention", model=None, prompt=None, layer_indices=None,
               overwrite=False):
    """Writes STEM.safetensors (or STEM.npz) and the sidecar STEM.json; returns their paths.

    attentions: one array per layer, [1,H,Q,K] (as output_attentions gives them) or [H,Q,K],
    attention probabilities (kind "attention") or pre-softmax scores (kind "logits"); stored as
    attentions.0, attentions.1, ... in DTYPE. tokens: the K key tokens' texts. The vision tokens
    are t * (h/m) * (w/m) keys from vision_start, image_grid_thw = [t, h, w] in patches before
    merging, m = spatial_merge_size. image_path is stored relative to the JSON's folder (nothing
    is copied); query_positions (Q key indices) when the rows are not all K positions;
    metadata: extra strings for the safetensors header; layer_indices: the model's layer of each
    array, kept in the sidecar as "model_layers". Raises ValueError on inconsistent input and
    FileExistsError when a file is there unless overwrite. Both files are written to
    temporaries in the same folder and renamed into place only when both are complete."""
    stem = os.fspath(path_stem)
    for extension in (".safetensors", ".npz", ".json"):
        if stem.endswith(extension):
            if extension != "." + fmt and extension != ".json":
                raise ValueError(f"{stem}: ends in {extension} but fmt is {fmt}")
            stem = stem[: -len(extension)]
    layers = _validate(attentions, tokens, vision_start, image_grid_thw, spatial_merge_size,
                       query_positions, fmt, dtype, kind, metadata, layer_indices)
    folder = os.path.dirname(os.path.abspath(stem))
    if not os.path.isdir(folder):
        raise ValueError(f"{folder}: no such folder")
    if image_path is not None and not os.path.isfile(image_path):
        raise ValueError(f"{image_path}: no such image file")
    dump_path, json_path = f"{stem}.{fmt}", f"{stem}.json"
    if not overwrite:
        for path in (dump_path, json_path):
            if os.path.exists(path):
                raise FileExistsError(f"{path}: exists (pass overwrite=True, --force, to replace it)")

    header_metadata = {"format": "attnsteer-dump", "kind": kind}
    header_metadata.update(metadata or {})
    sidecar = {}
    if model is not None:
        sidecar["model"] = str(model)
    if prompt is not None:
        sidecar["prompt"] = str(prompt)
    sidecar["kind"] = kind
    if image_path is not None:
        relative = os.path.relpath(os.path.abspath(image_path), folder)
        sidecar["image"] = relative.replace(os.sep, "/")
    sidecar["image_grid_thw"] = [int(v) for v in image_grid_thw]
    sidecar["spatial_merge_size"] = int(spatial_merge_size)
    sidecar["vision_start"] = int(vision_start)
    if layer_indices is not None:
        sidecar["model_layers"] = [int(v) for v in layer_indices]
    if query_positions is not None:
        sidecar["query_positions"] = [int(p) for p in query_positions]
    sidecar["tokens"] = list(tokens)
    sidecar_text = (json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n").encode("utf-8")

    if fmt == "safetensors":
        dump_temporary = _write_via_temporary(
            dump_path, lambda out: _write_safetensors(out, layers, dtype, header_metadata))
    else:
        dump_temporary = _write_via_temporary(
            dump_path, lambda out: _write_npz(out, layers, dtype, kind))
    try:
        json_temporary = _write_via_temporary(json_path, lambda out: out.write(sidecar_text))
    except BaseException:
        os.unlink(dump_temporary)
        raise
    os.replace(dump_temporary, dump_path)
    os.replace(json_temporary, json_path)
    return dump_path, json_path


def _parse_layers(text):
    try:
        layers = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of layer indices: {text!r}")
    if any(v < 0 for v in layers) or len(set(layers)) != len(layers):
        raise argparse.ArgumentTypeError(f"layer indices must be distinct and >= 0: {text!r}")
    return layers


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Dump a Qwen2-VL model's attention on one image and prompt for AttnSteer.")
    parser.add_argument("--model", default="Qwen/Qwen2-VL-2B-Instruct",
                        help="Hugging Face model id or folder (a Qwen2-VL model)")
    parser.add_argument("--image", required=True, help="the picture")
    parser.add_argument("--prompt", required=True, help="the user's text after the picture")
    parser.add_argument("--out", required=True, help="output path without extension (DIR/name)")
    parser.add_argument("--format", choices=FORMATS, default="safetensors")
    parser.add_argument("--dtype", choices=DTYPES,
                        help="stored dtype (default bfloat16, float16 for npz)")
    parser.add_argument("--layers", type=_parse_layers, help="comma-separated layer indices "
                        "(default all)")
    parser.add_argument("--max-pixels", type=int, default=512 * 28 * 28,
                        help="the processor's max_pixels (default 401408: <= 512 vision tokens)")
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    args = parser.parse_args(argv)
    dtype = args.dtype or ("bfloat16" if args.format == "safetensors" else "float16")
    if args.format == "npz" and dtype == "bfloat16":
        parser.error("--format npz cannot hold bfloat16: use --dtype float16 or float32")
    if not os.path.isfile(args.image):
        parser.error(f"--image {args.image}: no such file")
    stem = args.out
    for extension in (".safetensors", ".npz", ".json"):
        stem = stem[: -len(extension)] if stem.endswith(extension) else stem
    for path in (f"{stem}.{args.format}", f"{stem}.json"):
        if os.path.exists(path) and not args.force:
            parser.error(f"{path} exists (--force replaces it)")

    try:  # only here: the module itself needs numpy alone
        import torch
        from PIL import Image
        from transformers import AutoProcessor, Qwen2VLForConditionalGeneration
    except ImportError as error:
        sys.exit(f"dump-attention.py: error: {error.name or error} is missing; on your own "
                 "machine: pip install torch transformers pillow")

    device = "cuda" if torch.cuda.is_available() else "cpu"
    # bfloat16 on a GPU; float32 on a CPU, or when float32 is to be stored (rows of bfloat16
    # probabilities need not sum to 1 within the 1e-3 AttnSteer allows for float32)
    precision = torch.bfloat16 if device == "cuda" and dtype != "float32" else torch.float32
    model = Qwen2VLForConditionalGeneration.from_pretrained(
        args.model, torch_dtype=precision, attn_implementation="eager").to(device).eval()
    processor = AutoProcessor.from_pretrained(args.model, max_pixels=args.max_pixels)
    image = Image.open(args.image).convert("RGB")
    messages = [{"role": "user", "content": [{"type": "image"},
                                             {"type": "text", "text": args.prompt}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = processor(text=[text], images=[image], return_tensors="pt").to(device)
    with torch.no_grad():
        outputs = model(**inputs, output_attentions=True, use_cache=False)

    ids = inputs["input_ids"][0].tolist()
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    if image_pad not in ids:
        sys.exit("dump-attention.py: error: no <|image_pad|> token in the input")
    layers = args.layers if args.layers is not None else list(range(len(outputs.attentions)))
    if max(layers) >= len(outputs.attentions):
        sys.exit(f"dump-attention.py: error: --layers: the model has {len(outputs.attentions)} layers")
    attentions = [outputs.attentions[i].float().cpu().numpy() for i in layers]
    merge = getattr(model.config.vision_config, "spatial_merge_size", 2)
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    try:
        paths = write_dump(
            stem, attentions, [processor.tokenizer.decode([i]) for i in ids], ids.index(image_pad),
            [int(v) for v in inputs["image_grid_thw"][0].tolist()], merge, image_path=args.image,
            fmt=args.format, dtype=dtype, model=args.model, prompt=args.prompt,
            layer_indices=layers if args.layers is not None else None, overwrite=args.force,
            metadata={"model": args.model, "transformers": __import__("transformers").__version__})
    except (ValueError, FileExistsError) as error:
        sys.exit(f"dump-attention.py: error: {error}")
    print(" ".join(paths))


if __name__ == "__main__":
    main()
