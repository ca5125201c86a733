#!/usr/bin/env python
"""Write the sample scenes the face-detection notebook runs on (hwgen/data/face_scenes.npz).

Held-out test scenes of hwgen.train.faces.SyntheticFaces (split "test", seed 0): faces, backgrounds and
distractor crops none of which the training scenes use. The file holds image_<i> ((S, S, 3) uint8) and
boxes_<i> ((K, 4) float64 x1, y1, x2, y2 of the pasted faces) for i < --count, at --size pixels.
Needs the `train` extra (scikit-image).

    python scripts/make_face_scenes.py                 # 6 scenes of 128 x 128 (the shipped detector's input size)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "hwgen" / "data" / "face_scenes.npz"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=6, help="scenes (default: %(default)s)")
    p.add_argument("--size", type=int, default=128, help="scene side in pixels (default: %(default)s)")
    p.add_argument("--out", type=Path, default=OUT, help="the .npz to write (default: hwgen/data/face_scenes.npz)")
    args = p.parse_args()

    from hwgen.train.faces import SyntheticFaces

    data = SyntheticFaces("test", size=args.size, seed=0)
    arrays = {}
    for i in range(args.count):
        scene = data.scene(i)
        arrays[f"image_{i}"], arrays[f"boxes_{i}"] = scene.image, scene.boxes
    np.savez_compressed(args.out, **arrays)
    faces = sum(len(arrays[f"boxes_{i}"]) for i in range(args.count))
    print(f"wrote {args.out}: {args.count} scenes of {args.size} x {args.size}, {faces} faces, {args.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
