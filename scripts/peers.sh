#!/usr/bin/env bash
# Peer comparisons for BENCHMARKS.md, all in one run (same machine, same minute, same load):
#
#   1. one photo drawn in the terminal with half-blocks (two pixels per cell, 24-bit colour):
#      `labelvet show` (whole process: open the project, decode, resize, print the picture and
#      the candidates) against `chafa --symbols vhalf` and `timg -ph`, through a pipe, at the
#      size `show` picks there (44x16 cells for this 493x356 photo), and chafa/timg at the
#      annotation screen's image area (118x55 cells on a 200x60 terminal);
#   1b. a 512x512 ImageNet photo (a progressive JPEG, decoded at 1/8 by the scaled IDCT) the
#      same way: `labelvet show` through a pipe (32x16 cells for a square photo) against
#      `chafa --symbols vhalf` at 32x16;
#   2. the annotation screen's own decode-resize-encode path at 118x55 (criterion, in-process:
#      no process start), and a grid page of 24 thumbnails, from benches/annotate.rs;
#   3. hashing: `labelvet init --images` over 10,000 JPEGs (SHA-256, size and header probe of
#      each, written to a new project) against `sha256sum` of the same files (one process, and
#      two in parallel since labelvet uses both cores);
#   4. `labelvet predict` (EfficientNet-Lite0, tract) against onnxruntime with PIL preprocessing
#      and 2 intra-op threads (scripts/ort_predict.py, in a venv with pinned onnxruntime, numpy
#      and Pillow): steady-state images/s over the 20 labelled ImageNet photos (10 copies each,
#      so that one `predict` run is 200 images), and top-1 agreement on all 81 shared photos.
#
#   scripts/peers.sh           # needs hyperfine, chafa, timg (apt-get install -y hyperfine chafa timg)
#                              # and python3 with venv (apt-get install -y python3-venv)
#   scripts/peers.sh predict   # only the sections named: draw, annotate, hash, predict
#
# PEERS_BIN=path/to/labelvet uses that binary (built with --features predict) instead of
# building one; PEERS_BASELINE=path/to/other/labelvet adds it to the predict comparison (main's
# binary, for a before/after in the same minute: its rate, and its top-5 against this binary's);
# PEERS_PYTHON=path/to/python (with onnxruntime, numpy and Pillow) skips making the venv.
# Output: $PEERS_DIR (default target/peers) holds hyperfine's JSON and Markdown per comparison.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${PEERS_DIR:-$TARGET/peers}
BIN=$OUT/labelvet
PHOTO=$ROOT/../shared/data/photos/curated/opencv__butterfly.jpg
TREE=$ROOT/target/bench-data/tree10k
SECTIONS=${*:-draw annotate hash predict}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
mkdir -p "$OUT"
for tool in hyperfine chafa timg sha256sum; do
    if want draw || want hash; then
        command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y hyperfine chafa timg" >&2; exit 1; }
    fi
done
# A private copy: target/ may be shared, and another build must not swap the binary mid-run.
if [[ -n ${PEERS_BIN:-} ]]; then
    cp "$PEERS_BIN" "$BIN"
else
    (cd "$ROOT" && cargo build --release --features predict --bin labelvet)
    cp "$TARGET/release/labelvet" "$BIN"
fi
uptime

if want draw; then
    # A one-photo project whose image folder holds the photo.
    rm -rf "$OUT/photo" && mkdir -p "$OUT/photo/img"
    cp "$PHOTO" "$OUT/photo/img/"
    "$BIN" init "$OUT/photo/p.db" --images "$OUT/photo/img" >/dev/null
    KEY=$(basename "$PHOTO")

    # Every tool writes 24-bit colour when the terminal says it can.
    export COLORTERM=truecolor
    echo "== draw one photo, 44x16 cells (show's size through a pipe) =="
    hyperfine -N --warmup 3 --runs 30 --export-json "$OUT/draw_44x16.json" \
        --export-markdown "$OUT/draw_44x16.md" \
        -n "labelvet show" "$BIN show $OUT/photo/p.db $KEY" \
        -n "chafa vhalf" "chafa --format symbols --symbols vhalf --size 44x16 --animate off $PHOTO" \
        -n "timg -ph" "timg -ph -g44x16 $PHOTO"

    # A 512x512 ImageNet photo (progressive JPEG): `show` through a pipe draws it at 32x16 cells.
    IMAGENET=$ROOT/../shared/data/photos/imagenet_labeled/imagenet_00_243.jpg
    rm -rf "$OUT/imagenet" && mkdir -p "$OUT/imagenet/img"
    cp "$IMAGENET" "$OUT/imagenet/img/"
    "$BIN" init "$OUT/imagenet/p.db" --images "$OUT/imagenet/img" >/dev/null
    echo "== draw a 512x512 ImageNet photo, 32x16 cells (show's size through a pipe) =="
    hyperfine -N --warmup 3 --runs 30 --export-json "$OUT/draw_imagenet_32x16.json" \
        --export-markdown "$OUT/draw_imagenet_32x16.md" \
        -n "labelvet show" "$BIN show $OUT/imagenet/p.db $(basename "$IMAGENET")" \
        -n "chafa vhalf" "chafa --format symbols --symbols vhalf --size 32x16 --animate off $IMAGENET"

    echo "== draw one photo, 118x55 cells (the annotation screen's image area) =="
    hyperfine -N --warmup 3 --runs 30 --export-json "$OUT/draw_118x55.json" \
        --export-markdown "$OUT/draw_118x55.md" \
        -n "chafa vhalf" "chafa --format symbols --symbols vhalf --size 118x55 --animate off $PHOTO" \
        -n "timg -ph" "timg -ph -g118x55 $PHOTO"
fi

if want annotate; then
    echo "== the annotation screen: decode-resize-encode and key to frame (criterion) =="
    (cd "$ROOT" && cargo bench --features predict --bench annotate -- \
        --warm-up-time 1 --measurement-time 3) >"$OUT/annotate_bench.txt" 2>&1
    # Criterion's medians (its console line shows another estimate), from its own records.
    for f in "$TARGET"/criterion/{decode_resize_encode/*,key_to_frame*,grid_page/*}/new/estimates.json; do
        name=${f#"$TARGET"/criterion/}
        ns=$(sed -E 's/.*"median":\{"confidence_interval":\{[^}]*\},"point_estimate":([0-9.e+]+).*/\1/' "$f")
        awk -v n="${name%/new/estimates.json}" -v t="$ns" 'BEGIN { printf "%-60s median %.3f ms\n", n, t / 1e6 }'
    done | tee "$OUT/annotate_medians.txt"
fi

if want hash; then
    echo "== hashing 10,000 JPEGs =="
    if [ ! -e "$TREE/.complete" ]; then
        # benches/import.rs makes the tree (20 real ImageNet photos, each copy made distinct).
        (cd "$ROOT" && cargo bench --features predict --bench import -- hash_10k_jpegs --test)
    fi
    find "$TREE" -name '*.JPEG' | sort >"$OUT/tree-files.txt"
    echo "$(wc -l <"$OUT/tree-files.txt") files, $(du -sh "$TREE" | cut -f1)"
    hyperfine --warmup 1 --runs 5 --export-json "$OUT/hash_10k.json" \
        --export-markdown "$OUT/hash_10k.md" \
        --prepare "rm -f $OUT/hash.db" \
        -n "labelvet init --images" "$BIN init $OUT/hash.db --images $TREE" \
        -n "sha256sum" "xargs -a $OUT/tree-files.txt -d '\n' sha256sum >/dev/null" \
        -n "sha256sum x2 (xargs -P2)" "xargs -a $OUT/tree-files.txt -d '\n' -P2 -n 5000 sha256sum >/dev/null"
fi

if want predict; then
    echo "== predict: EfficientNet-Lite0, labelvet (tract) against onnxruntime (PIL, 2 threads) =="
    PY=${PEERS_PYTHON:-}
    if [[ -z $PY ]]; then
        # Pinned like CI's venv (.ci/run); made once, kept in the output folder.
        if [[ ! -x $OUT/venv/bin/python ]]; then
            python3 -m venv "$OUT/venv" || { echo "python3 -m venv failed: apt-get install -y python3-venv" >&2; exit 1; }
        fi
        "$OUT/venv/bin/pip" install -q --disable-pip-version-check \
            onnxruntime==1.32.0 numpy==2.4.6 pillow==13.0.0
        PY=$OUT/venv/bin/python
    fi
    MODEL=$ROOT/../shared/data/models/efficientnet_lite0.onnx
    PHOTOS=$ROOT/../shared/data/photos
    P=$OUT/predict
    rm -rf "$P" && mkdir -p "$P/rate" "$P/all"
    # The rate: the 20 labelled ImageNet photos (512x512 progressive JPEGs but one), 10 copies
    # each, so that one `predict` run of 200 images is steady state (the model is loaded before
    # the clock starts; each run recomputes all with --force).
    for i in $(seq -w 0 9); do
        mkdir -p "$P/rate/c$i" && cp "$PHOTOS"/imagenet_labeled/*.jpg "$P/rate/c$i/"
    done
    # The agreement: all 81 shared photos (JPEG, PNG, grey, RGBA).
    cp -r "$PHOTOS"/curated "$PHOTOS"/imagenet_labeled "$PHOTOS"/more "$P/all/"
    "$BIN" init "$P/rate.db" --images "$P/rate" >/dev/null
    "$BIN" init "$P/all.db" --images "$P/all" >/dev/null
    "$BIN" predict "$P/all.db" --model e0="$MODEL" --scale-127 >/dev/null
    sqlite3 -csv "$P/all.db" "SELECT i.key, p.rank, c.idx, printf('%.6f', p.score)
        FROM predictions p JOIN images i ON i.id = p.image_id JOIN classes c ON c.key = p.label
        ORDER BY i.key, p.rank" >"$P/labelvet-top5.csv"
    "$PY" "$ROOT/scripts/ort_predict.py" "$MODEL" "$P/all" --seconds 0 \
        --topk "$P/onnxruntime-top5.csv" --against "$P/labelvet-top5.csv" | tee "$P/agreement.txt"
    if [[ -n ${PEERS_BASELINE:-} ]]; then
        cp "$P/all.db" "$P/all-baseline.db"
        "$PEERS_BASELINE" predict "$P/all-baseline.db" --model e0="$MODEL" --scale-127 --force >/dev/null
        sqlite3 -csv "$P/all-baseline.db" "SELECT i.key, p.rank, c.idx, printf('%.6f', p.score)
            FROM predictions p JOIN images i ON i.id = p.image_id JOIN classes c ON c.key = p.label
            ORDER BY i.key, p.rank" >"$P/baseline-top5.csv"
        if cmp -s "$P/baseline-top5.csv" "$P/labelvet-top5.csv"; then
            echo "baseline: the same top-5 and scores (6 decimals) on every photo"
        else
            echo "baseline: top-5 or scores differ from this binary's:"
            diff "$P/baseline-top5.csv" "$P/labelvet-top5.csv" | head -20 || true
        fi | tee -a "$P/agreement.txt"
    fi
    uptime
    # Alternating runs, so that a change of load hits both.
    for run in 1 2 3; do
        for b in "$BIN" ${PEERS_BASELINE:+"$PEERS_BASELINE"}; do
            rate=$("$b" predict "$P/rate.db" --model e0="$MODEL" --scale-127 --force \
                | sed -nE 's/.*\(([0-9.]+) images\/s\).*/\1/p')
            echo "labelvet predict ($([[ $b == "$BIN" ]] && echo this || echo "baseline $b")), run $run: $rate images/s"
        done
        "$PY" "$ROOT/scripts/ort_predict.py" "$MODEL" "$PHOTOS/imagenet_labeled" --seconds 10
    done | tee "$P/rates.txt"
fi
uptime
