#!/usr/bin/env python3
"""PyTorch reference of the engine's exact maths, for checking losses and speed (not run in CI).

Same model (assets/vgg16.safetensors, torchvision layout, trunk to relu5_1), same loss
definitions, same optimiser (torch.optim.LBFGS lr=1, history 100, max_iter=1, no line search,
one evaluation per iteration; or Adam lr 0.02), init from the content image.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch pillow numpy safetensors
    /tmp/torchenv/bin/python benches/torch_reference.py --content ../shared/images/tubingen.jpg \
        --style ../shared/images/starry_night.jpg --size 512 --iters 200 --json torch.json --out torch.png

--bounded runs the engine's default optimiser instead: L-BFGS kept inside the displayable box
with a backtracking line search and a scale-aware first step (src/transfer/optim/lbfgs.rs, mirrored
in BoundedLbfgs below); each iteration is still one evaluation, and a rejected trial reports
the losses of the image kept.

Resizing uses PIL bicubic, the Rust side Catmull-Rom: the two differ slightly, so compare
final losses within a tolerance, not bit for bit.
"""
import argparse
import json
import math
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


class BoundedLbfgs:
    """The engine's bounded L-BFGS (src/transfer/optim/lbfgs.rs): projected steps, values held at a
    bound (and pushed outwards) left out of the step, Armijo backtracking by quadratic
    interpolation within [0.1, 0.5] of the last scale, the first step moving the value pushed
    hardest by one normalised unit."""

    ARMIJO, MAX_BACKTRACKS, FIRST_STEP, MIN_CURVATURE, MIN_DESCENT = 1e-4, 8, 1.0, 1e-10, 1e-9

    def __init__(self, lo, hi, history=100, lr=1.0):
        self.lo, self.hi, self.history, self.lr = lo, hi, history, lr
        self.reset()

    def reset(self):
        self.s, self.y, self.rho, self.h_diag = [], [], [], 1.0
        self.at, self.trial, self.steps = None, None, 0

    def project(self, x):
        return torch.maximum(torch.minimum(x, self.hi), self.lo)

    def step(self, x, f, g):
        """Returns (next point to evaluate, whether x was accepted)."""
        if self.trial is not None:
            trial, self.trial = self.trial, None
            if not f <= self.at[1] + self.ARMIJO * trial["slope"]:
                return self.backtrack(trial, f), False
            y = g - self.at[2]
            ys = float((y * trial["step"]).sum())
            if ys > self.MIN_CURVATURE:
                if len(self.s) == self.history:
                    self.s.pop(0), self.y.pop(0), self.rho.pop(0)
                self.h_diag = ys / float((y * y).sum())
                self.s.append(trial["step"]), self.y.append(y), self.rho.append(1.0 / ys)
        self.at = (x, f, g)
        return self.propose(), True

    def propose(self):
        x, _, g = self.at
        held = ((x <= self.lo) & (g > 0)) | ((x >= self.hi) & (g < 0))
        free = (~held).float()
        gf = g * free
        q = -gf
        alpha = []
        for s, y, rho in reversed(list(zip(self.s, self.y, self.rho))):
            a = float((s * q).sum()) * rho
            alpha.append(a)
            q = q - a * y
        q = q * self.h_diag
        for (s, y, rho), a in zip(zip(self.s, self.y, self.rho), reversed(alpha)):
            b = float((y * q).sum()) * rho
            q = q + (a - b) * s
        d = q * free
        if self.steps == 0:
            t = self.FIRST_STEP * self.lr / max(float(gf.abs().max()), 1e-300)
        else:
            t = self.lr
        self.steps += 1
        if float((gf * d).sum()) > -self.MIN_DESCENT:
            zero = torch.zeros_like(d)
            self.trial = dict(direction=zero, t=0.0, step=zero, slope=0.0, backtracks=0)
            return x
        nxt = self.project(x + t * d)
        step = nxt - x
        self.trial = dict(direction=d, t=t, step=step, slope=float((g * step).sum()), backtracks=0)
        return nxt

    def backtrack(self, trial, f):
        x, f0, g = self.at
        if trial["backtracks"] >= self.MAX_BACKTRACKS:
            at = self.at
            self.reset()
            self.at = at
            return self.propose()
        rise = f - f0 - trial["slope"]
        if math.isfinite(f) and rise > 0:
            t = min(max(-trial["slope"] * trial["t"] / (2 * rise), 0.1 * trial["t"]), 0.5 * trial["t"])
        else:
            t = 0.1 * trial["t"]
        nxt = self.project(x + t * trial["direction"])
        step = nxt - x
        self.trial = dict(trial, t=t, step=step, slope=float((g * step).sum()), backtracks=trial["backtracks"] + 1)
        return nxt


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
    p.add_argument("--bounded", action="store_true", help="the engine's default: L-BFGS inside the displayable box")
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

    lo, hi = (0 - MEAN) / STD, (1 - MEAN) / STD
    if a.bounded:
        with torch.no_grad():
            x.copy_(torch.maximum(torch.minimum(x, hi), lo))
    if a.optimizer == "lbfgs" and a.bounded:
        opt = BoundedLbfgs(lo, hi, history=100, lr=a.lr or 1.0)
    elif a.optimizer == "lbfgs":
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

    # The bounded L-BFGS evaluates its trials at `trial` and keeps the accepted image in x.
    trial = x.detach().clone()
    kept = None
    for i in range(a.iters):
        t0 = time.perf_counter()
        if isinstance(opt, BoundedLbfgs):
            point = trial.clone().requires_grad_(True)
            f = features(point, weights)
            c = ((f[CONTENT_LAYER] - content_t) ** 2).mean()
            s = sum(((gram(f[n]) - style_t[n]) ** 2).mean() for n in STYLE_LAYERS)
            tv = ((point[..., 1:] - point[..., :-1]) ** 2).mean() + ((point[..., 1:, :] - point[..., :-1, :]) ** 2).mean()
            total = a.content_weight * c + a.style_weight * s + a.tv_weight * tv
            total.backward()
            trial, accepted = opt.step(point.detach(), total.item(), point.grad.detach())
            if accepted:
                with torch.no_grad():
                    x.copy_(point.detach())
                kept = dict(total=total.item(), content=c.item(), style=s.item(), tv=tv.item())
            record.update(kept)
        elif a.optimizer == "lbfgs":
            opt.step(closure)
        else:
            closure()
            opt.step()
            if a.bounded:
                with torch.no_grad():
                    x.copy_(torch.maximum(torch.minimum(x, hi), lo))
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
