#!/usr/bin/env python3
"""The onnxruntime peer of `labelvet predict`, for scripts/peers.sh.

Runs an ImageNet classifier (ONNX, input [1,3,R,R]) over photos the way the reference
pipelines do and `labelvet predict --scale-127` does (src/predict/preprocess.rs): decode with PIL
and convert to RGB; resize the shorter side to round(R / 0.875) with PIL's bilinear filter, the
longer side keeping the aspect ratio, truncated (torchvision's Resize); centre-crop R x R with
the offsets rounded as Python's round() (torchvision's CenterCrop); (x - 127) / 128; NCHW.
onnxruntime gets `--threads` intra-op threads (one image at a time, as a Python service would
run it); decoding and resizing run on the calling thread.

It writes every photo's top-k (softmax) as CSV `image,rank,label_index,score` to `--topk`, then
times whole passes over the photos (read, decode, resize, crop, inference, softmax, top-k) after
one warm-up pass, and prints the steady-state rate as `images/s`.

    ort_predict.py MODEL.onnx DIR [--threads 2] [--seconds 20] [--topk out.csv]
        [--against labelvet.csv]

Images are the files under DIR (recursively), keyed by their path relative to DIR, sorted.
`--against` compares the top-k with another run's, in the same CSV form (scripts/peers.sh
writes labelvet's from the project file): top-1 agreement, top-1 score difference, top-k
overlap, and every photo whose top-1 differs. `--seconds 0` only writes and compares the top-k.
"""

import argparse
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image


def files_under(root):
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            if n.lower().endswith((".jpg", ".jpeg", ".png")):
                p = os.path.join(d, n)
                out.append((os.path.relpath(p, root), p))
    return sorted(out)


def preprocess(path, r):
    s = round(r / 0.875)
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        if w <= h:
            nw, nh = s, int(s * h / w)
        else:
            nw, nh = int(s * w / h), s
        im = im.resize((nw, nh), Image.BILINEAR)
        top = round((nh - r) / 2.0)
        left = round((nw - r) / 2.0)
        im = im.crop((left, top, left + r, top + r))
        x = np.asarray(im, dtype=np.float32)
    x = (x - 127.0) / 128.0
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def top_k(logits, k):
    z = logits.astype(np.float64)
    e = np.exp(z - z.max())
    p = e / e.sum()
    order = sorted(range(len(p)), key=lambda i: (-p[i], i))[:k]
    return [(i, float(p[i])) for i in order]


def read_topk(path):
    out = {}
    with open(path) as f:
        for line in f:
            key, rank, index, score = line.rstrip("\n").rsplit(",", 3)
            if rank == "rank":
                continue
            out.setdefault(key, []).append((int(rank), int(index), float(score)))
    return {k: [(i, p) for _, i, p in sorted(v)] for k, v in out.items()}


def compare(ours, theirs):
    """ours: onnxruntime's top-k per photo; theirs: labelvet's."""
    keys = sorted(set(ours) | set(theirs))
    missing = [k for k in keys if k not in ours or k not in theirs]
    both = [k for k in keys if k in ours and k in theirs]
    same = [k for k in both if ours[k][0][0] == theirs[k][0][0]]
    diff = max((abs(ours[k][0][1] - theirs[k][0][1]) for k in same), default=0.0)
    overlap = min(
        (len({i for i, _ in ours[k]} & {i for i, _ in theirs[k]}) for k in both), default=0
    )
    same_k = sum(1 for k in both if [i for i, _ in ours[k]] == [i for i, _ in theirs[k]])
    print(
        f"top-1 agreement, labelvet vs onnxruntime: {len(same)} of {len(both)} photos; "
        f"top-1 score within {diff:.4f}; top-{len(ours[both[0]]) if both else 0} overlap at "
        f"least {overlap}, same order on {same_k}"
    )
    for k in both:
        if ours[k][0][0] != theirs[k][0][0]:
            print(f"  {k}: onnxruntime {ours[k][:2]}, labelvet {theirs[k][:2]}")
    for k in missing:
        print(f"  {k}: only in {'onnxruntime' if k in ours else 'labelvet'}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--topk", help="write every photo's top-k here (CSV)")
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--against", help="compare the top-k with this CSV (labelvet's)")
    a = ap.parse_args()

    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    r = int(inp.shape[2])
    photos = files_under(a.dir)
    if not photos:
        sys.exit(f"{a.dir}: no photos")

    def one(path):
        x = preprocess(path, r)
        return top_k(sess.run(None, {inp.name: x})[0][0], a.k)

    # Warm-up pass, which also gives the top-k written out.
    results = [(key, one(p)) for key, p in photos]
    if a.topk:
        with open(a.topk, "w") as f:
            f.write("image,rank,label_index,score\n")
            for key, top in results:
                for rank, (i, p) in enumerate(top, 1):
                    f.write(f"{key},{rank},{i},{p:.6f}\n")

    if a.against:
        compare(dict(results), read_topk(a.against))
    if a.seconds <= 0:
        return

    n = 0
    passes = []
    start = time.perf_counter()
    while True:
        t = time.perf_counter()
        for _, p in photos:
            one(p)
        passes.append(time.perf_counter() - t)
        n += len(photos)
        if time.perf_counter() - start >= a.seconds:
            break
    total = time.perf_counter() - start
    passes.sort()
    median = passes[len(passes) // 2]
    print(
        f"onnxruntime {ort.__version__} ({a.threads} intra-op threads), Pillow "
        f"{Image.__version__}: {n} images in {total:.2f} s = {n / total:.1f} images/s "
        f"(median pass of {len(photos)}: {len(photos) / median:.1f} images/s, "
        f"{len(passes)} passes)"
    )


if __name__ == "__main__":
    main()
