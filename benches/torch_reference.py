#!/usr/bin/env python3
"""PyTorch reference of the engine's exact maths, for checking losses and speed (not run in CI).

Same model (assets/vgg16.safetensors, torchvision layout, trunk to relu5_1), same loss
definitions, same optimiser (torch.optim.LBFGS lr=1, history 100, max_iter=1, no line search,
one evaluation per iteration; or Adam lr 0.02), init from the content image.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch pillow numpy safetensors
    /tmp/torchenv/bin/python benches/torch_reference.py --content ../shared/images/tubingen.jpg \
        --style ../shared/images/starry_night.jpg --size 512 --iters 200 --json torch.json --out torch.png

Resizing uses PIL bicubic, the Rust side Catmull-Rom: the two differ slightly, so compare
final losses within a tolerance, not bit for bit.
"""
import argparse
import json
import resource
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from safetensors.torch import load_file

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
# torchvision VGG16 feature indices of the convolutions, up to conv5_1; "M" = max-pool.
PLAN = [0, 2, "M", 5, 7, "M", 10, 12, 14, "M", 17, 19, 21, "M", 24]
NAMES = ["relu1_1", "relu1_2", None, "relu2_1", "relu2_2", None, "relu3_1", "relu3_2", "relu3_3",
         None, "relu4_1", "relu4_2", "relu4_3", None, "relu5_1"]
STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
CONTENT_LAYER = "relu4_2"


def load_image(path, long_side):
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    scale = long_side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    img = img.resize(size, Image.BICUBIC)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    return ((x - MEAN) / STD).contiguous()


def features(x, weights):
    out = {}
    for step, idx in enumerate(PLAN):
        if idx == "M":
            x = F.max_pool2d(x, 2)
        else:
            x = F.relu(F.conv2d(x, weights[f"features.{idx}.weight"], weights[f"features.{idx}.bias"], padding=1))
            out[NAMES[step]] = x
    return out


def gram(f):
    _, c, h, w = f.shape
    m = f.reshape(c, h * w)
    return m @ m.t() / (c * h * w)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--content", required=True)
    p.add_argument("--style", required=True)
    p.add_argument("--weights", default="assets/vgg16.safetensors")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--content-weight", type=float, default=1.0)
    p.add_argument("--style-weight", type=float, default=100.0)
    p.add_argument("--tv-weight", type=float, default=0.0)
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs")
    p.add_argument("--lr", type=float)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json")
    p.add_argument("--out")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    weights = {k: v.float() for k, v in load_file(a.weights).items()}
    content = load_image(a.content, a.size)
    style = load_image(a.style, a.size)
    with torch.no_grad():
        content_t = features(content, weights)[CONTENT_LAYER]
        sf = features(style, weights)
        style_t = {n: gram(sf[n]) for n in STYLE_LAYERS}
    x = content.clone().contiguous().requires_grad_(True)

    def losses():
        f = features(x, weights)
        c = ((f[CONTENT_LAYER] - content_t) ** 2).mean()
        s = sum(((gram(f[n]) - style_t[n]) ** 2).mean() for n in STYLE_LAYERS)
        tv = ((x[..., 1:] - x[..., :-1]) ** 2).mean() + ((x[..., 1:, :] - x[..., :-1, :]) ** 2).mean()
        total = a.content_weight * c + a.style_weight * s + a.tv_weight * tv
        return total, c, s, tv

    if a.optimizer == "lbfgs":
        opt = torch.optim.LBFGS([x], lr=a.lr or 1.0, max_iter=1, history_size=100)
    else:
        opt = torch.optim.Adam([x], lr=a.lr or 0.02)
    log = []
    record = {}

    def closure():
        opt.zero_grad()
        total, c, s, tv = losses()
        total.backward()
        record.update(total=total.item(), content=c.item(), style=s.item(), tv=tv.item())
        return total

    for i in range(a.iters):
        t0 = time.perf_counter()
        if a.optimizer == "lbfgs":
            opt.step(closure)
        else:
            closure()
            opt.step()
        dt = time.perf_counter() - t0
        log.append(dict(iter=i, seconds=dt, **record))
        if i % 10 == 0:
            print(f"it {i}: total {record['total']:.4f} content {record['content']:.4f} style {record['style']:.5f} {dt:.3f}s", flush=True)
    with torch.no_grad():
        total, c, s, tv = losses()
    log.append(dict(iter=a.iters, seconds=0.0, total=total.item(), content=c.item(), style=s.item(), tv=tv.item()))
    times = sorted(e["seconds"] for e in log[min(2, a.iters - 1):-1])  # skip warm-up
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"final it {a.iters}: total {total.item():.4f} content {c.item():.4f} style {s.item():.5f}; "
          f"median {times[len(times) // 2]:.3f} s/iter, min {times[0]:.3f}; peak RSS {peak_mib:.0f} MiB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"size": [content.shape[3], content.shape[2]], "device": "torch-cpu", "iterations": log,
                       "median_s": times[len(times) // 2], "min_s": times[0], "peak_rss_mib": peak_mib}, f)
    if a.out:
        img = (x.detach() * STD + MEAN).clamp(0, 1)[0].permute(1, 2, 0).numpy()
        Image.fromarray((img * 255).round().astype(np.uint8)).save(a.out)


if __name__ == "__main__":
    main()
