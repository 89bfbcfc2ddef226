"""``fastconv predict MODEL.npz IMAGE [IMAGE ...] [--top K]``: the top classes of each image.

The model file is one ``models.save`` wrote: its architecture rebuilds the network, its
``meta`` says how to prepare an image (input shape, mean/std, class names).  Images are
PNG/JPEG (any format Pillow reads, when Pillow is installed) or ``.npy`` arrays (always):
integer pixels are 8-bit levels (uint16: 16-bit) scaled to [0, 1], float arrays are taken as
already in [0, 1]; then ``(x - mean) / std``.  Whatever does not fit -- a size, a channel
count, a missing Pillow -- is a one-line error that says what to do.
"""
import os
import sys

import numpy as np

from . import models, nn

__all__ = ["add_arguments", "run", "read_image", "prepare", "top_classes", "PredictError"]

# Pillow modes read as one channel; every other mode is converted to RGB.
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


class PredictError(ValueError):
    """An input that cannot be predicted on, with a message that says how to fix it."""


def read_image(path):
    """The pixels of ``path``: (H, W) for grayscale, (H, W, C) or (C, H, W) as stored."""
    if path.lower().endswith(".npy"):
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise PredictError(f"{path}: not a readable .npy array ({exc})") from None
    try:
        from PIL import Image
    except ImportError:
        raise PredictError(f"{path}: reading PNG/JPEG images needs Pillow: pip install pillow "
                           f"(or give the image as a .npy array)") from None
    try:
        with Image.open(path) as image:
            if image.mode == "I;16":               # 16-bit grey: keep every level
                return np.asarray(image).astype(np.uint16)
            if image.mode in _GRAY_MODES:
                return np.asarray(image.convert("L"))
            return np.asarray(image.convert("RGB"))
    except OSError as exc:          # missing file, or not an image Pillow knows
        raise PredictError(f"{path}: cannot read it as an image ({exc})") from None


def _channels_of(model):
    """The input channels the model's first convolution (or linear layer) takes."""
    for _, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
        if isinstance(module, nn.Linear):
            return None
    return None


def prepare(pixels, path, meta, channels=None, dtype=np.float32):
    """One image -> a (C, H, W) array of ``dtype``, scaled and normalised as ``meta`` says,
    after checking its channels and size against the model's."""
    shape = meta.get("input_shape")
    channels = shape[0] if shape else channels
    a = np.asarray(pixels)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2:
        a = a[None]
    elif a.ndim == 3:
        if channels is not None and a.shape[0] != channels and a.shape[-1] in (channels, 3, 4) \
                and a.shape[0] not in (1, 3, 4):
            a = np.moveaxis(a, -1, 0)                       # (H, W, C) as images store it
        elif channels is None and a.shape[-1] in (3, 4) and a.shape[0] not in (1, 3, 4):
            a = np.moveaxis(a, -1, 0)
    else:
        raise PredictError(f"{path}: an image must be (H, W), (C, H, W) or (H, W, C); got an "
                           f"array of shape {a.shape}")
    if a.dtype.kind not in "uif":
        raise PredictError(f"{path}: pixels must be numbers, got dtype {a.dtype}")
    if channels is not None and a.shape[0] != channels:
        if channels == 1 and a.shape[0] == 3 and (a == a[:1]).all():
            a = a[:1]                                      # a grey image stored as RGB
        elif channels == 1:
            raise PredictError(f"{path}: has {a.shape[0]} channels (colour) but the model "
                               f"expects 1 (grayscale): convert it, e.g. with Pillow "
                               f"Image.open(path).convert('L').save('gray.png')")
        else:
            what = "grayscale" if a.shape[0] == 1 else f"{a.shape[0]} channels"
            raise PredictError(f"{path}: is {what} but the model expects {channels} channels"
                               + (" (RGB): convert it, e.g. with Pillow "
                                  "Image.open(path).convert('RGB').save('rgb.png')"
                                  if channels == 3 else ""))
    if shape and tuple(a.shape[1:]) != tuple(shape[1:]):
        h, w = shape[1:]
        raise PredictError(f"{path}: is {a.shape[2]}x{a.shape[1]} (width x height) but the "
                           f"model expects {w}x{h}: resize it first, e.g. with Pillow "
                           f"Image.open(path).resize(({w}, {h})).save('resized.png')")
    if a.dtype.kind in "ui":        # 8-bit levels (uint16: 16-bit levels) -> [0, 1]
        x = a.astype(np.float64) / (65535.0 if a.dtype == np.uint16 else 255.0)
    else:
        x = a.astype(np.float64)
    mean = np.asarray(meta.get("mean", [0.0]), np.float64)[:, None, None]
    std = np.asarray(meta.get("std", [1.0]), np.float64)[:, None, None]
    return ((x - mean) / std).astype(dtype)


def top_classes(logits, k):
    """(index, probability) of the k most likely classes of one row of logits."""
    probabilities = nn.softmax(np.asarray(logits, np.float64)[None])[0]
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(int(i), float(probabilities[i])) for i in order]


def add_arguments(parser):
    parser.add_argument("model", metavar="MODEL.npz",
                        help="a model saved by fastconv (models.save or fastconv train --save)")
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="PNG/JPEG (with Pillow) or .npy images")
    parser.add_argument("--top", type=int, default=5, metavar="K",
                        help="how many classes to print per image (default 5)")


def run(args, stream=None):
    """``fastconv predict``: prints each image's top classes; returns the exit code."""
    out = stream or sys.stdout
    if args.top <= 0:
        print(f"fastconv predict: --top must be positive, got {args.top}", file=sys.stderr)
        return 2
    try:
        if not os.path.exists(args.model):
            raise PredictError(f"{args.model}: no such file")
        try:
            model = models.load(args.model).eval()
        except (ValueError, OSError) as exc:   # np.load's complaint about a foreign file
            if "weights only" in str(exc):
                raise
            raise PredictError(f"{args.model}: not a model saved by fastconv "
                               f"(models.save or fastconv train --save): {exc}") from None
        meta = model.meta
        dtype = model.parameters()[0].data.dtype if model.parameters() else np.float32
        batch = np.stack([prepare(read_image(path), path, meta, _channels_of(model), dtype)
                          for path in args.images])
        logits = model(batch)
    except (PredictError, ValueError, KeyError, OSError) as exc:
        print(f"fastconv predict: {exc}", file=sys.stderr)
        return 1
    classes = meta.get("classes")
    for path, row in zip(args.images, logits.reshape(len(args.images), -1)):
        print(path, file=out)
        for index, p in top_classes(row, min(args.top, row.size)):
            name = classes[index] if classes and index < len(classes) else str(index)
            print(f"  {100 * p:6.2f}%  {name}", file=out)
    return 0
