#!/usr/bin/env python3
"""Writes the samples: saliency maps (8-bit grayscale PNG, luminance = saliency in 0..1) and a
synthetic attention dump.

Run: /usr/bin/python3 resources/samples/make-samples.py  (the maps need the standard library only,
the dump numpy as well: Debian's python3-numpy)
- gaussian-blobs.png  (448 x 336): three Gaussian blobs of different size and strength
- object-mask.png     (392 x 392): a soft-edged object silhouette (a mug: body, handle, steam)
- gradient.png        (560 x 280): a left-to-right linear ramp
- synthetic-dump-saliency.png (504 x 336): a saliency map of the synthetic dump's picture, a
  blurred blob on the ball (steer the sample with it)
- synthetic-dump-target.png (504 x 336): the ball itself, 1 inside and 0 outside (the target of
  the grounding metrics: --target-mask)
- synthetic-dump.safetensors, synthetic-dump.json, synthetic-dump.png: made-up attention of 4
  layers x 8 heads over 126 tokens (a chat prompt around an 8 x 12 grid of vision tokens) on a
  504 x 336 picture of a red ball on grass; written by scripts/dump-attention.py's write_dump.
  Not a real model's: see synthetic_dump() for what each head does.
"""
import importlib.util
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


SYNTHETIC_SEED = 20240611
PICTURE_W, PICTURE_H = 504, 336      # Qwen2-VL with max_pixels = 96 x 28^2 resizes it to 336 x 224:
GRID_THW, MERGE = [1, 16, 24], 2     # 16 x 24 patches of 14 px, 8 x 12 vision tokens of 42 x 42 px here
BALL_X, BALL_Y, BALL_R = 336.0, 210.0, 46.0   # centred where token rows 4|5 and columns 7|8 meet


def write_png_rgb(path, pixels):
    """pixels: uint8 numpy array [height, width, 3]; each row gets the PNG filter (none, sub, up,
    average, Paeth) with the smallest sum of absolute residuals, as libpng's heuristic does."""
    import numpy as np

    height, width, _ = pixels.shape
    raw = pixels.reshape(height, width * 3).astype(np.int16)
    rows = bytearray()
    previous = np.zeros(width * 3, np.int16)
    for row in raw:
        left = np.concatenate([np.zeros(3, np.int16), row[:-3]])
        upper_left = np.concatenate([np.zeros(3, np.int16), previous[:-3]])
        p = left + previous - upper_left
        pa, pb, pc = np.abs(p - left), np.abs(p - previous), np.abs(p - upper_left)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, previous, upper_left))
        candidates = [row, row - left, row - previous, row - (left + previous) // 2, row - paeth]
        residuals = [(c % 256).astype(np.uint8) for c in candidates]
        cost = [np.abs(r.astype(np.int8).astype(np.int32)).sum() for r in residuals]
        best = int(np.argmin(cost))
        rows.append(best)
        rows += residuals[best].tobytes()
        previous = row

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    png += chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as out:
        out.write(png)


def smooth_noise(rng, height, width, cell):
    """Value noise: a coarse normal grid (one value per CELL pixels) interpolated bilinearly."""
    import numpy as np

    coarse = rng.normal(size=(height // cell + 2, width // cell + 2))
    y = np.arange(height) / cell
    x = np.arange(width) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    c00, c01 = coarse[y0][:, x0], coarse[y0][:, x0 + 1]
    c10, c11 = coarse[y0 + 1][:, x0], coarse[y0 + 1][:, x0 + 1]
    return (c00 * (1 - fx) + c01 * fx) * (1 - fy) + (c10 * (1 - fx) + c11 * fx) * fy


def ball_picture(rng):
    """A red ball on a lawn under a blue sky with clouds, hills behind; returns (uint8 RGB
    [H, W, 3], the ball's coverage in 0..1 per pixel [H, W])."""
    import numpy as np

    h, w = PICTURE_H, PICTURE_W
    y, x = np.mgrid[0:h, 0:w] + 0.5
    horizon = 118 + 10 * np.sin(x / 61.0) + 6 * np.sin(x / 23.0 + 1.3)
    # sky: a vertical gradient with soft clouds
    t = np.clip(y / 130.0, 0, 1)[..., None]
    sky = (1 - t) * np.array([86, 142, 214]) + t * np.array([178, 206, 236])
    clouds = np.clip(smooth_noise(rng, h, w, 48) * 0.8 + smooth_noise(rng, h, w, 16) * 0.3 - 0.35, 0, 1)
    clouds = clouds * np.clip((125 - y) / 40.0, 0, 1)
    sky = sky + clouds[..., None] * (np.array([250, 250, 252]) - sky)
    # hills: a darker green band just above the lawn
    hills_top = horizon - 26 + 9 * np.sin(x / 37.0 + 0.4)
    hills = np.array([58, 98, 62]) + 10 * smooth_noise(rng, h, w, 12)[..., None]
    # lawn: mown stripes, lighter and finer towards the horizon, patchy
    depth = np.clip((y - horizon) / (h - horizon), 0, 1)[..., None]
    stripes = np.sin((x - w / 2) / (18 + 60 * depth[..., 0]))
    lawn = np.array([92, 150, 60]) * (0.82 + 0.25 * depth) + 7 * stripes[..., None]
    lawn = lawn + 12 * smooth_noise(rng, h, w, 10)[..., None] + 8 * smooth_noise(rng, h, w, 3)[..., None]
    image = np.where((y < hills_top)[..., None], sky, np.where((y < horizon)[..., None], hills, lawn))
    # the ball's shadow on the lawn, then the ball: a shaded sphere lit from the upper left
    shadow = np.exp(-(((x - BALL_X - 18) / 58.0) ** 2 + ((y - BALL_Y - BALL_R + 4) / 11.0) ** 2))
    image = image * (1 - 0.55 * shadow[..., None])
    distance = np.hypot(x - BALL_X, y - BALL_Y)
    coverage = np.clip(BALL_R + 0.5 - distance, 0, 1)  # anti-aliased edge
    nz = np.sqrt(np.clip(1 - (distance / BALL_R) ** 2, 0, 1))
    nx, ny = (x - BALL_X) / BALL_R, (y - BALL_Y) / BALL_R
    light = np.array([-0.5, -0.6, 0.62]) / np.linalg.norm([-0.5, -0.6, 0.62])
    lambert = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1)
    specular = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1) ** 40
    ball = np.array([200, 24, 20]) * (0.25 + 0.85 * lambert)[..., None] + 200 * specular[..., None]
    ball = ball + 6 * smooth_noise(rng, h, w, 6)[..., None]  # a little surface wear
    image = image * (1 - coverage[..., None]) + ball * coverage[..., None]
    return np.clip(np.round(image), 0, 255).astype(np.uint8), coverage


def synthetic_dump(here):
    """resources/samples/synthetic-dump.*: made-up but structured attention, causal, Q = K.

    Heads (the same in every layer, their strength varying by layer):
      0 attention sink on token 0;       1 local: the token itself and the two before;
      2 object: text after the image looks at the ball's vision tokens (weak in layer 0, strongest
        in layer 2);                     3 image-wide: text spreads over all vision tokens;
      4 object for the question's words " red", " ball" and the answer's " ball", "?" (layers 1-3);
      5 2-D local inside the image (a vision token looks at its grid neighbours);
      6 text: the answer looks back at the question;  7 diffuse noise."""
    import numpy as np

    spec = importlib.util.spec_from_file_location(
        "dump_attention", os.path.join(here, "..", "..", "scripts", "dump-attention.py"))
    dump = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dump)

    rng = np.random.RandomState(SYNTHETIC_SEED)
    pixels, coverage = ball_picture(rng)
    picture = os.path.join(here, "synthetic-dump.png")
    write_png_rgb(picture, pixels)

    rows, cols = GRID_THW[1] // MERGE, GRID_THW[2] // MERGE
    cell = PICTURE_H // rows  # 42 px
    ball_cells = coverage.reshape(rows, cell, cols, cell).mean(axis=(1, 3)).ravel()
    luminance = pixels.mean(axis=2).reshape(rows, cell, cols, cell).mean(axis=(1, 3)).ravel() / 255
    prompt = ["Where", " is", " the", " red", " ball", " in", " this", " picture", "?", " Answer",
              " briefly", "."]
    answer = ["The", " ball", " is", " right", " of", " the", " centre", "."]
    tokens = ["<|im_start|>", "user", "\n", "<|vision_start|>"] + ["<|image_pad|>"] * (rows * cols)
    tokens += ["<|vision_end|>"] + prompt + ["<|im_end|>", "\n", "<|im_start|>", "assistant", "\n"]
    tokens += answer
    k = len(tokens)
    v0, v1 = 4, 4 + rows * cols  # vision keys v0 .. v1 - 1
    question = range(v1 + 1, v1 + 1 + len(prompt))
    answer_start = k - len(answer)
    text_after = np.arange(k) > v1
    vision = np.zeros(k, bool)
    vision[v0:v1] = True
    object_key = np.zeros(k)
    object_key[v0:v1] = ball_cells / ball_cells.max()
    object_words = [q for q in range(k) if tokens[q] in (" red", " ball", "?")]
    grid_r = np.full(k, -99.0)
    grid_c = np.full(k, -99.0)
    grid_r[v0:v1], grid_c[v0:v1] = np.divmod(np.arange(rows * cols), cols)
    q_index, k_index = np.mgrid[0:k, 0:k]
    distance = q_index - k_index
    causal = distance >= 0

    layers = []
    for layer in range(4):
        logits = np.zeros((8, k, k))
        logits += rng.normal(0, 0.35, size=logits.shape)
        logits[0, :, 0] += 5.0 + layer                                   # sink
        logits[0] -= 0.02 * distance
        logits[1] += np.select([distance == 0, distance == 1, distance == 2], [2.5, 4.0, 1.5], -2.0)
        strength = [0.4, 2.5, 5.0, 3.5][layer]                            # object head
        logits[2, :, 0] += 2.5
        logits[2][text_after] += strength * object_key + 1.0 * vision
        logits[3, :, 0] += 1.5                                            # image-wide
        logits[3][text_after] += (2.5 + 0.3 * layer) * vision + 1.5 * luminance_keys(luminance, k, v0)
        logits[4, :, 0] += 3.0                                            # object words
        logits[4] -= 0.05 * distance
        logits[4][object_words] += [0.0, 5.0, 6.5, 4.5][layer] * object_key
        near = np.exp(-((grid_r[:, None] - grid_r[None, :]) ** 2
                        + (grid_c[:, None] - grid_c[None, :]) ** 2) / 2.0)
        logits[5] += 4.0 * near * vision[:, None] * vision[None, :]       # 2-D local in the image
        logits[5][~vision] -= 0.08 * distance[~vision]
        logits[6] -= 1.5 * vision                                          # text
        logits[6][answer_start:, question.start:question.stop] += 2.0 + 0.5 * layer
        logits[6][answer_start:, v1 + 5] += 3.0                            # " ball" of the question
        logits[7] += rng.normal(0, 0.6 + 0.3 * layer, size=(k, k))         # diffuse
        logits = np.where(causal, logits, -np.inf)
        weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
        layers.append(weights / weights.sum(axis=-1, keepdims=True))

    described = "rows 4-5, columns 7-8 of the 8 x 12 vision-token grid (0-based)"
    return dump.write_dump(
        os.path.join(here, "synthetic-dump"), layers, tokens, v0, GRID_THW, MERGE,
        image_path=picture, dtype="bfloat16", overwrite=True,
        model="synthetic (resources/samples/make-samples.py), not a real model",
        prompt="".join(prompt),
        metadata={"synthetic": "true",
                  "description": "synthetic attention made by resources/samples/make-samples.py, "
                                 "not a real model's: 4 layers x 8 heads, causal",
                  "heads": "0 sink, 1 local, 2 object (strength by layer), 3 image-wide, "
                           "4 object for the words red/ball/?, 5 2-D local in the image, "
                           "6 answer to question, 7 diffuse",
                  "object": "a red ball covering " + described})


def ball_saliency(x, y):
    """What a vision model's saliency might say about the sample's picture: the ball, a little
    blurred and larger than it is, over a faint response to the bright sky."""
    ball = math.exp(-(math.hypot(x - BALL_X, y - BALL_Y) / (1.3 * BALL_R)) ** 2)
    return min(1.0, ball + 0.08 * max(0.0, 1.0 - y / 120.0))


def ball_target(x, y):
    """Where the ball is: the target mask of the grounding metrics."""
    return 1.0 if math.hypot(x - BALL_X, y - BALL_Y) <= BALL_R else 0.0


def luminance_keys(luminance, k, v0):
    """The picture's brightness per vision token as a row over all K keys (0 for text keys)."""
    import numpy as np

    row = np.zeros(k)
    row[v0:v0 + luminance.size] = luminance - luminance.mean()
    return row


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    write_png(os.path.join(here, "gaussian-blobs.png"), 448, 336, blobs)
    write_png(os.path.join(here, "object-mask.png"), 392, 392, mug)
    write_png(os.path.join(here, "gradient.png"), 560, 280, gradient)
    synthetic_dump(here)
    write_png(os.path.join(here, "synthetic-dump-saliency.png"), PICTURE_W, PICTURE_H,
              ball_saliency)
    write_png(os.path.join(here, "synthetic-dump-target.png"), PICTURE_W, PICTURE_H, ball_target)
