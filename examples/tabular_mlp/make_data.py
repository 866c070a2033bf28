"""Write the example's table: scikit-learn's breast cancer data (569 real tumours, 30 measurements each, label
`diagnosis`: malignant or benign) as a Parquet file. Run: ``python make_data.py [FILE]``."""

import sys

from sklearn.datasets import load_breast_cancer


def main(path: str = "tumours.parquet") -> None:
    frame = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "diagnosis"})
    frame["diagnosis"] = frame["diagnosis"].map({0: "malignant", 1: "benign"})
    frame.to_parquet(path, index=False)
    print(f"wrote {len(frame)} rows x {frame.shape[1] - 1} features to {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
