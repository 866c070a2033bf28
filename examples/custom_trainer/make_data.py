"""Write the example's image folder: scikit-learn's 1,797 real 8x8 handwritten digits as 16x16 grey PNGs, one
sub-folder per class (``images/0`` ... ``images/9``). Run: ``python make_data.py [FOLDER]``."""

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def main(folder: str = "images") -> None:
    root = Path(folder)
    digits = load_digits()
    for index, (image, label) in enumerate(zip(digits.images, digits.target)):
        pixels = (image / 16.0 * 255).astype(np.uint8)
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).resize((16, 16), Image.BILINEAR).save(root / str(label) / f"{index:04d}.png")
    print(f"wrote {len(digits.target)} images to {root}/")


if __name__ == "__main__":
    main(*sys.argv[1:])
