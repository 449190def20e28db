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
#      two in parallel since labelvet uses both cores).
#
#   scripts/peers.sh           # needs hyperfine, chafa, timg (apt-get install -y hyperfine chafa timg)
#
# Output: $PEERS_DIR (default target/peers) holds hyperfine's JSON and Markdown per comparison.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${PEERS_DIR:-$ROOT/target/peers}
BIN=$OUT/labelvet
PHOTO=$ROOT/../shared/data/photos/curated/opencv__butterfly.jpg
TREE=$ROOT/target/bench-data/tree10k
mkdir -p "$OUT"
for tool in hyperfine chafa timg sha256sum; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y hyperfine chafa timg" >&2; exit 1; }
done
(cd "$ROOT" && cargo build --release --features predict --bin labelvet)
# A private copy: target/ may be shared, and another build must not swap the binary mid-run.
cp "$ROOT/target/release/labelvet" "$BIN"
uptime

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

echo "== the annotation screen: decode-resize-encode and key to frame (criterion) =="
(cd "$ROOT" && cargo bench --features predict --bench annotate -- \
    --warm-up-time 1 --measurement-time 3) >"$OUT/annotate_bench.txt" 2>&1
# Criterion's medians (its console line shows another estimate), from its own records.
for f in "$ROOT"/target/criterion/{decode_resize_encode/*,key_to_frame*,grid_page/*}/new/estimates.json; do
    name=${f#"$ROOT"/target/criterion/}
    ns=$(sed -E 's/.*"median":\{"confidence_interval":\{[^}]*\},"point_estimate":([0-9.e+]+).*/\1/' "$f")
    awk -v n="${name%/new/estimates.json}" -v t="$ns" 'BEGIN { printf "%-60s median %.3f ms\n", n, t / 1e6 }'
done | tee "$OUT/annotate_medians.txt"

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
uptime
