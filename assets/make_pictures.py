"""Draw the Home page's method pictures (small SVGs) from a fixed seed.

Run ``python assets/make_pictures.py`` to write assets/<method>.svg again. Each picture is a
sketch of the figure its paper is known for, drawn from small synthetic point sets: no
training result is faked here, these are illustrations for the cards.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

W, H = 320, 200
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
LIGHT = ["#dbe9f6", "#ffe6cc", "#dcf2dc", "#f8d9d9", "#eadff3", "#eee0dc"]
OUT = Path(__file__).resolve().parent


def svg(body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" '
            f'height="{H}" font-family="sans-serif">\n<rect width="{W}" height="{H}" fill="white"/>\n'
            f"{body}</svg>\n")


def dot(x, y, c, r=2.6, op=0.85):
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{c}" fill-opacity="{op}"/>\n'


def cross(x, y, s=7):
    return (f'<path d="M{x - s:.1f},{y - s:.1f}L{x + s:.1f},{y + s:.1f}M{x - s:.1f},{y + s:.1f}'
            f'L{x + s:.1f},{y - s:.1f}" stroke="black" stroke-width="3"/>\n')


def dekm(rng):
    centers = np.array([[80, 60], [230, 70], [150, 150], [260, 160]], float)
    body = ""
    # k-means decision regions on a coarse grid (nearest centroid).
    step = 4
    for gy in range(0, H, step):
        row = [int(np.argmin(((centers - [gx + step / 2, gy + step / 2]) ** 2).sum(1)))
               for gx in range(0, W, step)]
        start = 0
        for i in range(1, len(row) + 1):  # one rect per run of equal cells
            if i == len(row) or row[i] != row[start]:
                body += (f'<rect x="{start * step}" y="{gy}" width="{(i - start) * step}" '
                         f'height="{step}" fill="{LIGHT[row[start]]}"/>\n')
                start = i
    # Elongated clusters along one shared direction: the last eigenvector of S_w.
    d = np.array([0.93, 0.37])
    for c, m in enumerate(centers):
        t = rng.normal(0, 22, 45)
        pts = m + t[:, None] * d + rng.normal(0, 6, (45, 2))
        body += "".join(dot(x, y, COLORS[c]) for x, y in pts)
    for m in centers:
        body += cross(*m)
    p0, p1 = np.array([150, 100]) - 170 * d, np.array([150, 100]) + 170 * d
    body += (f'<line x1="{p0[0]:.1f}" y1="{p0[1]:.1f}" x2="{p1[0]:.1f}" y2="{p1[1]:.1f}" '
             'stroke="black" stroke-width="2" stroke-dasharray="6 4"/>\n')
    return svg(body)


def dcrl(rng):
    body = ""
    titles = ["1 clustering", "2 separation", "3 structure"]
    for p in range(3):
        ox = 8 + p * 104
        body += f'<rect x="{ox}" y="8" width="96" height="184" rx="8" fill="#f7f7f7" stroke="#ddd"/>\n'
        body += f'<text x="{ox + 48}" y="186" font-size="12" text-anchor="middle" fill="#444">{titles[p]}</text>\n'
        for c in range(3):
            t = rng.uniform(0, 1, 40)
            if p == 0:    # clusters pulled into small spheres, still close together
                ctr = np.array([ox + 48, 80]) + 16 * np.array([np.cos(c * 2.1), np.sin(c * 2.1)])
                pts = ctr + rng.normal(0, 5, (40, 2))
            elif p == 1:  # spheres pushed apart
                ctr = np.array([ox + 48, 85]) + 34 * np.array([np.cos(c * 2.1), np.sin(c * 2.1)])
                pts = ctr + rng.normal(0, 6, (40, 2))
            else:         # each cluster recovers its manifold (an arc, a line, a wave)
                ctr = np.array([ox + 48, 85]) + 30 * np.array([np.cos(c * 2.1), np.sin(c * 2.1)])
                shape = [np.column_stack([14 * np.cos(4 * t), 14 * np.sin(4 * t)]),
                         np.column_stack([30 * (t - 0.5), 8 * (t - 0.5)]),
                         np.column_stack([30 * (t - 0.5), 6 * np.sin(9 * t)])][c]
                pts = ctr + shape + rng.normal(0, 1.2, (40, 2))
            body += "".join(dot(x, y, COLORS[c], r=2.3) for x, y in pts)
    return svg(body)


def mlc(rng):
    sizes = [6, 5, 5]
    n = sum(sizes)
    labels = np.repeat(np.arange(3), sizes)
    # Features near one 1-D subspace per cluster: |Z^T Z| is block-diagonal.
    basis = np.linalg.qr(rng.normal(size=(8, 3)))[0]
    z = basis[:, labels] + 0.12 * rng.normal(size=(8, n))
    z /= np.linalg.norm(z, axis=0)
    m = np.abs(z.T @ z)
    cell = 11
    ox, oy = 20, 12
    body = ""
    for i in range(n):
        for j in range(n):
            g = int(255 * (1 - m[i, j]))
            body += (f'<rect x="{ox + j * cell}" y="{oy + i * cell}" width="{cell}" height="{cell}" '
                     f'fill="rgb({g},{g},{min(255, g + 40)})"/>\n')
    body += f'<text x="{ox + n * cell / 2}" y="196" font-size="12" text-anchor="middle" fill="#444">|ZᵀZ| sorted by cluster</text>\n'
    # Pi: the doubly stochastic membership, drawn as a smaller matrix.
    pi = (labels[:, None] == labels[None, :]).astype(float)
    pi = 0.8 * pi / pi.sum(1, keepdims=True) + 0.2 / n
    ox2, c2 = 215, 5.5
    for i in range(n):
        for j in range(n):
            g = int(255 * (1 - pi[i, j] / pi.max()))
            body += (f'<rect x="{ox2 + j * c2}" y="{50 + i * c2}" width="{c2}" height="{c2}" '
                     f'fill="rgb({min(255, g + 30)},{g},{g})"/>\n')
    body += f'<text x="{ox2 + n * c2 / 2}" y="150" font-size="12" text-anchor="middle" fill="#444">Π</text>\n'
    return svg(body)


def gan(rng):
    body = ""
    rows, cols = 4, 6
    cw, ch = 40, 44
    for r in range(rows):
        body += (f'<text x="8" y="{26 + r * ch + 12}" font-size="11" fill="#666">id {r}</text>\n')
        for c in range(cols):
            x, y = 44 + c * cw, 8 + r * ch
            body += f'<rect x="{x}" y="{y}" width="{cw - 4}" height="{ch - 4}" fill="black"/>\n'
            rot = rng.normal(0, 9)
            sw = rng.uniform(0.85, 1.15)
            body += (f'<text x="{x + (cw - 4) / 2}" y="{y + ch - 12}" font-size="{30 * sw:.0f}" '
                     f'fill="white" text-anchor="middle" font-weight="bold" '
                     f'transform="rotate({rot:.1f} {x + (cw - 4) / 2} {y + (ch - 4) / 2})">{[3, 7, 0, 4][r]}</text>\n')
    return svg(body)


def acedec(rng):
    body = ""
    # Scatter: the cluster dimension (x) against the shared space's PC1 (y).
    ox, oy, w, h = 14, 14, 190, 160
    body += f'<rect x="{ox}" y="{oy}" width="{w}" height="{h}" fill="#fafafa" stroke="#ddd"/>\n'
    for c in range(4):
        xs = ox + 24 + c * 47 + rng.normal(0, 5, 40)
        ys = oy + h / 2 + rng.normal(0, 32, 40)
        body += "".join(dot(x, y, COLORS[c], r=2.4) for x, y in zip(xs, np.clip(ys, oy + 4, oy + h - 4)))
    body += f'<text x="{ox + w / 2}" y="192" font-size="11" text-anchor="middle" fill="#444">cluster dim</text>\n'
    body += f'<text x="8" y="{oy + h / 2}" font-size="11" fill="#444" transform="rotate(-90 8 {oy + h / 2})" text-anchor="middle">shared PC1</text>\n'
    # Bars: beta_cs per latent dimension (1 = cluster space, 0 = shared space).
    betas = [0.97, 0.9, 0.08, 0.05, 0.12, 0.03]
    bx = 222
    for i, b in enumerate(betas):
        bh = 130 * b
        col = "#d62728" if b > 0.5 else "#7f7f7f"
        body += f'<rect x="{bx + i * 15}" y="{160 - bh:.1f}" width="11" height="{bh:.1f}" fill="{col}"/>\n'
    body += f'<line x1="{bx - 3}" y1="160" x2="{bx + 90}" y2="160" stroke="#444"/>\n'
    body += f'<text x="{bx + 44}" y="178" font-size="11" text-anchor="middle" fill="#444">β per dimension</text>\n'
    return svg(body)


def main():
    rng = np.random.default_rng(7)
    for name, fn in [("dekm", dekm), ("dcrl", dcrl), ("mlc", mlc), ("gan", gan), ("acedec", acedec)]:
        (OUT / f"{name}.svg").write_text(fn(rng))
        print("wrote", OUT / f"{name}.svg")


if __name__ == "__main__":
    main()
