"""Sample PNG images from a generator.onnx written by ``ganbench-export``, with onnxruntime on the CPU.

This file imports only numpy, onnxruntime and PIL (no torch, no ganbench
module), so it runs where PyTorch is not installed. ``ganbench-export``
copies it next to the model as ``sample_onnx.py``::

    python sample_onnx.py generator.onnx --num 16 --class 7 --out samples/

The model's inputs are ``z`` (float32, ``(N, latent_dim)``) and, for
conditional models, ``labels`` (int64, ``(N,)``); the output ``images`` is
float32 ``(N, C, H, W)`` in [-1, 1]. z is drawn with NumPy, so the images
differ from those ``ganbench-sample`` draws with torch for the same seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image


def open_session(model_path: str | Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])


def model_info(session: ort.InferenceSession) -> dict:
    """Return latent_dim, num_classes, channels and image_size, read from the model's metadata and inputs."""
    metadata = session.get_modelmeta().custom_metadata_map
    if "ganbench" in metadata:
        return json.loads(metadata["ganbench"])
    inputs = {i.name: i for i in session.get_inputs()}
    return {"latent_dim": int(inputs["z"].shape[1]), "num_classes": 0 if "labels" not in inputs else None}


def generate(
    session: ort.InferenceSession,
    num: int,
    seed: int = 0,
    class_index: int | None = None,
    batch_size: int = 256,
    psi: float = 1.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return images ``(num, C, H, W)`` float32 in [-1, 1] and their labels ``(num,)`` (``None`` if unconditional).

    ``psi`` scales z towards 0 (truncation in Z; a mapping network's mean w is
    not stored in the model). Labels are ``class_index`` or 0..K-1 in turn.
    """
    if num <= 0:
        raise ValueError(f"num={num} is invalid: give the number of images, >= 1")
    if not 0.0 <= psi <= 1.0:
        raise ValueError(f"psi={psi} is outside [0, 1]")
    info = model_info(session)
    num_classes = info.get("num_classes") or 0
    labels = None
    if num_classes:
        if class_index is None:
            labels = np.arange(num, dtype=np.int64) % num_classes
        elif 0 <= class_index < num_classes:
            labels = np.full(num, class_index, dtype=np.int64)
        else:
            raise ValueError(f"class={class_index} is out of range: this model has classes 0..{num_classes - 1}")
    elif class_index is not None:
        raise ValueError("class is set, but this model is not conditional")
    z = np.random.default_rng(seed).standard_normal((num, info["latent_dim"])).astype(np.float32) * np.float32(psi)
    chunks = []
    for start in range(0, num, batch_size):
        feeds = {"z": z[start : start + batch_size]}
        if labels is not None:
            feeds["labels"] = labels[start : start + batch_size]
        chunks.append(session.run(["images"], feeds)[0])
    return np.concatenate(chunks), labels


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Map [-1, 1] to uint8 with clamping and rounding, as ganbench does for its own PNG files."""
    return np.round(np.clip((images + 1.0) / 2.0, 0.0, 1.0) * 255.0).astype(np.uint8)


def save_images(images: np.ndarray, out_dir: str | Path, labels: np.ndarray | None = None) -> list[Path]:
    """Write each image ``(C, H, W)`` as ``000000.png`` (``000000_class3.png`` when labelled)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, image in enumerate(to_uint8(images)):
        pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        suffix = f"_class{int(labels[index])}" if labels is not None else ""
        path = out / f"{index:06d}{suffix}.png"
        Image.fromarray(np.ascontiguousarray(pixels)).save(path, format="PNG")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write PNG images from a ganbench generator.onnx with onnxruntime (CPU).")
    parser.add_argument("model", help="path of generator.onnx")
    parser.add_argument("--num", type=int, default=16, help="number of images (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="NumPy seed of z (default 0)")
    parser.add_argument("--class", dest="class_index", type=int, default=None, help="class of every image (conditional models)")
    parser.add_argument("--psi", type=float, default=1.0, help="truncation in Z, in [0, 1]; 1 = off")
    parser.add_argument("--batch-size", type=int, default=256, help="images per onnxruntime call (default 256)")
    parser.add_argument("--out", default="onnx_samples", help="output folder (default onnx_samples)")
    args = parser.parse_args(argv)
    if not Path(args.model).is_file():
        print(f"error: model {args.model} not found", file=sys.stderr)
        return 2
    try:
        session = open_session(args.model)
        images, labels = generate(session, args.num, args.seed, args.class_index, args.batch_size, args.psi)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    paths = save_images(images, args.out, labels)
    print(f"wrote {len(paths)} PNG files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
