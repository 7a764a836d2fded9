#!/usr/bin/env python3
"""Draws the application icon: one small landscape, photographed (lower left) and painted in
swirling strokes (upper right), split along the diagonal, on a rounded square. Writes
assets/icons/hicolor/<N>x<N>/apps/neural-style-studio.png for the sizes a desktop asks for.

Deterministic (a fixed seed, no timestamps in the PNGs): running it again gives the same files.
Needs Pillow. Usage: python3 tools/make_icon.py
"""

import math
import os
import random

from PIL import Image, ImageDraw, ImageFilter

SIZES = [16, 24, 32, 48, 64, 128, 256, 512]
S = 1024  # drawn at this size, then reduced
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "assets", "icons", "hicolor")

SKY_TOP, SKY_LOW = (96, 160, 230), (190, 222, 248)
HILL, HILL_FAR = (70, 150, 70), (110, 175, 95)
SUN = (255, 236, 150)
SUN_AT, SUN_R = (560, 430), 100


def lerp(a, b, t):
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def hill_y(x, base, amp, phase):
    return base - amp * math.sin(x / S * math.pi * 1.3 + phase)


def photo():
    """The landscape as a photo: smooth sky, two hills, the sun."""
    img = Image.new("RGB", (S, S))
    d = ImageDraw.Draw(img)
    for y in range(S):
        d.line([(0, y), (S, y)], fill=lerp(SKY_TOP, SKY_LOW, y / S))
    d.ellipse([SUN_AT[0] - SUN_R, SUN_AT[1] - SUN_R, SUN_AT[0] + SUN_R, SUN_AT[1] + SUN_R], fill=SUN)
    far = [(x, hill_y(x, 640, 70, 0.6)) for x in range(0, S + 1, 8)]
    d.polygon(far + [(S, S), (0, S)], fill=HILL_FAR)
    near = [(x, hill_y(x, 780, 90, 2.2)) for x in range(0, S + 1, 8)]
    d.polygon(near + [(S, S), (0, S)], fill=HILL)
    return img


def painting():
    """The same landscape in thick strokes: swirls in the sky and round the sun, hills in
    strokes that follow their slope."""
    rng = random.Random(7)
    img = Image.new("RGB", (S, S), (40, 70, 150))
    d = ImageDraw.Draw(img)
    blues = [(28, 56, 140), (45, 90, 180), (70, 120, 200), (120, 160, 220), (200, 215, 235)]
    # Sky: arcs round a few swirl centres.
    for cx, cy, rmax in [(300, 250, 260), (620, 520, 200), (180, 520, 160), (880, 160, 170)]:
        for _ in range(110):
            r = rng.uniform(20, rmax)
            a0 = rng.uniform(0, 360)
            col = blues[rng.randrange(len(blues))]
            d.arc([cx - r, cy - r, cx + r, cy + r], a0, a0 + rng.uniform(40, 120), fill=col, width=rng.randint(14, 26))
    # The sun: yellow rings round it.
    for i in range(14, 0, -1):
        r = SUN_R * (0.55 + 0.09 * i)
        col = lerp((255, 245, 170), (240, 180, 40), i / 14)
        a0 = rng.uniform(0, 360)
        d.arc([SUN_AT[0] - r, SUN_AT[1] - r, SUN_AT[0] + r, SUN_AT[1] + r], a0, a0 + 300, fill=col, width=20)
    d.ellipse([SUN_AT[0] - 55, SUN_AT[1] - 55, SUN_AT[0] + 55, SUN_AT[1] + 55], fill=(255, 248, 200))
    # Hills: short strokes along their slopes.
    for base, amp, phase, cols in [
        (640, 70, 0.6, [(60, 120, 90), (90, 150, 80), (40, 100, 80)]),
        (780, 90, 2.2, [(20, 80, 50), (40, 110, 60), (70, 130, 50), (15, 60, 45)]),
    ]:
        top = [(x, hill_y(x, base, amp, phase)) for x in range(0, S + 1, 8)]
        d.polygon(top + [(S, S), (0, S)], fill=cols[0])
        for _ in range(420):
            x = rng.uniform(0, S)
            y = rng.uniform(hill_y(x, base, amp, phase) + 10, S)
            slope = -amp * math.cos(x / S * math.pi * 1.3 + phase) * math.pi * 1.3 / S
            length = rng.uniform(30, 70)
            dx, dy = length / math.hypot(1, slope), length * slope / math.hypot(1, slope)
            d.line([(x - dx, y - dy), (x + dx, y + dy)], fill=cols[rng.randrange(len(cols))], width=rng.randint(10, 18))
    return img.filter(ImageFilter.SMOOTH_MORE)


def icon():
    """The two halves on a rounded square, with a light seam along the diagonal."""
    split = Image.new("L", (S, S), 0)
    ImageDraw.Draw(split).polygon([(0, 0), (S, S), (0, S)], fill=255)
    picture = Image.composite(photo(), painting(), split)
    d = ImageDraw.Draw(picture)
    d.line([(0, 0), (S, S)], fill=(250, 250, 245), width=18)
    inset, radius = 40, 200
    shape = Image.new("L", (S, S), 0)
    ImageDraw.Draw(shape).rounded_rectangle([inset, inset, S - inset, S - inset], radius=radius, fill=255)
    out = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    out.paste(picture, (0, 0), shape)
    # A dark rim so the icon reads on light and dark panels alike.
    ImageDraw.Draw(out).rounded_rectangle(
        [inset, inset, S - inset, S - inset], radius=radius, outline=(20, 28, 50, 255), width=14
    )
    return out


def main():
    big = icon()
    for n in SIZES:
        folder = os.path.join(ROOT, f"{n}x{n}", "apps")
        os.makedirs(folder, exist_ok=True)
        big.resize((n, n), Image.LANCZOS).save(os.path.join(folder, "neural-style-studio.png"), optimize=True)
    print(f"wrote {len(SIZES)} sizes under {os.path.normpath(ROOT)}")


if __name__ == "__main__":
    main()
