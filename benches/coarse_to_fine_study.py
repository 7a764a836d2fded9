#!/usr/bin/env python3
"""Coarse-to-fine schedules on the engine's exact maths, in PyTorch (not run in CI).

Backs the "Why no schedule can meet the 40% goal" section of docs/performance.md. Runs L-BFGS
(history 100, no line search, as the engine) over stages given as `side:iterations[:adamLR]`,
upscaling bicubically between stages, and logs the loss per iteration with its cost in 512 px
iterations ((side/512)^2 each). Each stage's start prints the per-layer style losses.

    # single scale, keeping the result for the oracle runs
    python benches/coarse_to_fine_study.py --stages 512:200 --save single.pt --json single.json
    # a schedule, the photo's high frequencies carried into each larger stage
    python benches/coarse_to_fine_study.py --stages 256:100,512:60 --carry --json c2f.json
    # oracle: start from the converged answer downsampled by 2 and upscaled again
    python benches/coarse_to_fine_study.py --stages 512:100 --oracle single.pt --factor 2 --carry
"""
import argparse
import json

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from torch_reference import CONTENT_LAYER, STYLE_LAYERS, features, gram, load_image


def resize(t, hw):
    return F.interpolate(t, hw, mode="bicubic", antialias=True, align_corners=False)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--content", default="../shared/images/tubingen.jpg")
    p.add_argument("--style", default="../shared/images/starry_night.jpg")
    p.add_argument("--weights", default="assets/vgg16.safetensors")
    p.add_argument("--stages", default="512:200")
    p.add_argument("--carry", action="store_true", help="add the photo's detail lost by upscaling")
    p.add_argument("--nearest", action="store_true", help="nearest-neighbour upscaling")
    p.add_argument("--oracle", help="start from this saved result, downsampled by --factor")
    p.add_argument("--factor", type=float, default=2.0)
    p.add_argument("--save")
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(2)
    weights = {k: v.float() for k, v in load_file(a.weights).items()}

    def targets(side):
        c, s = load_image(a.content, side), load_image(a.style, side)
        with torch.no_grad():
            sf = features(s, weights)
            return c, features(c, weights)[CONTENT_LAYER], {n: gram(sf[n]) for n in STYLE_LAYERS}

    def losses(x, ct, st):
        f = features(x, weights)
        content = ((f[CONTENT_LAYER] - ct) ** 2).mean()
        per_layer = {n: ((gram(f[n]) - st[n]) ** 2).mean() for n in STYLE_LAYERS}
        style = sum(per_layer.values())
        return content + 100 * style, content, style, per_layer

    x, prev_photo, cost, log = None, None, 0.0, []
    for spec in a.stages.split(","):
        side, iters, *opt = spec.split(":")
        side, iters = int(side), int(iters)
        photo, ct, st = targets(side)
        hw = photo.shape[2:]
        if x is None and a.oracle:
            small = tuple(round(d / a.factor) for d in hw)
            x = resize(resize(torch.load(a.oracle), small), hw)
            if a.carry:
                x = x + photo - resize(resize(photo, small), hw)
        elif x is None:
            x = photo.clone()
        else:
            x = F.interpolate(x, hw, mode="nearest") if a.nearest else F.interpolate(
                x, hw, mode="bicubic", align_corners=False)
            if a.carry:
                x = x + photo - F.interpolate(prev_photo, hw, mode="bicubic", align_corners=False)
        prev_photo = photo
        with torch.no_grad():
            total, c, s, per = losses(x, ct, st)
        layers = " ".join(f"{k}={v.item():.4g}" for k, v in per.items())
        print(f"stage {side} start: total {total.item():.3f} content {c.item():.3f} style {s.item():.5f} {layers}")
        x = x.detach().clone().requires_grad_(True)
        adam = opt and opt[0].startswith("adam")
        optimizer = torch.optim.Adam([x], lr=float(opt[0][4:] or 0.02)) if adam else torch.optim.LBFGS(
            [x], lr=1, max_iter=1, history_size=100)
        record = {}

        def closure():
            optimizer.zero_grad()
            total, c, s, _ = losses(x, ct, st)
            total.backward()
            record.update(total=total.item(), content=c.item(), style=s.item())
            return total

        for i in range(iters):
            if adam:
                closure()
                optimizer.step()
            else:
                optimizer.step(closure)
            cost += (hw[0] * hw[1]) / (384 * 512)
            log.append(dict(stage=side, cost=cost, **record))
            if i % 10 == 0 or i == iters - 1:
                print(f"  {side} it {i} cost {cost:.1f}: total {record['total']:.3f} content {record['content']:.3f}")
    with torch.no_grad():
        total, c, s, _ = losses(x, ct, st)
    print(f"final: total {total.item():.4f} content {c.item():.4f} style {s.item():.5f} after cost {cost:.1f}")
    if a.save:
        torch.save(x.detach(), a.save)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(log, f)


if __name__ == "__main__":
    main()
