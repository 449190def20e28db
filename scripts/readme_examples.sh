#!/usr/bin/env bash
# Runs every `sh` command block of README.md, as written, on the shared data (../shared/data),
# so that an example that no longer works fails CI instead of a new user.
#
# The blocks run in a scratch folder beside a link to ../shared, so `../shared/data/...` in the
# README resolves as it does from the repository. The files the README names as the reader's own
# (`~/photos/pets`, `labels.csv`, `resnet50.csv`, `vit.jsonl.gz`, `classify.jsonl`,
# `resnet50.onnx`, the folder `~/imagenet/val`) are made first from the shared data. Blocks run
# in README order, except that blocks that make projects (`labelvet init`) go first and the block
# importing ReaL's answers next: the spot-check examples of "Annotating" are about a project
# with answers. `cargo` lines are CI's own steps and are left out. `labelvet annotate` and
# `labelvet demo` need a terminal: they run in tmux, the screen must come up, `q` must quit it
# with status 0 (an annotator's file of the team workflow, under `handout/`, gets one answer
# first, for the `pack` that follows).
#
# Usage: scripts/readme_examples.sh [LABELVET_BINARY]
#   default binary: $CARGO_TARGET_DIR/release/labelvet (else target/release/labelvet), built with
#   `--features predict` (as `cargo test --release --features predict` builds it); without that
#   feature the `predict` blocks are skipped, or fail under CI=true.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$repo/target}/release/labelvet}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
shared="$(cd "$repo/../shared" && pwd)"
data="$shared/data"
[[ -x "$bin" ]] || { echo "readme_examples: no labelvet binary at $bin (cargo build --release)" >&2; exit 1; }
command -v tmux >/dev/null || { echo "readme_examples: tmux is needed for the annotate examples" >&2; exit 1; }

scratch="$(mktemp -d /tmp/labelvet-readme.XXXXXX)"
tmux_socket="labelvet-readme-$$"
cleanup() {
  tmux -L "$tmux_socket" kill-server 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
ln -s "$shared" "$scratch/shared"
work="$scratch/work"
mkdir -p "$work" "$scratch/home"
export HOME="$scratch/home"
export LABELVET_DATA_DIR="$scratch/data-dir"
cd "$work"

# --- The reader's own files, made from the shared data -------------------------------------------
mkdir -p "$HOME/photos" "$HOME/imagenet/val"
cp -r "$data/photos" "$HOME/photos/pets"
rm -f "$HOME/photos/pets/"*.csv
# labels.csv: the labelled ImageNet photos (the label index is the file name's last number).
{
  echo "image,label"
  for f in "$HOME/photos/pets/imagenet_labeled/"*.jpg; do
    name="$(basename "$f")"
    idx="${name%.jpg}"; idx="${idx##*_}"
    echo "imagenet_labeled/$name,$idx"
  done
} > labels.csv
# resnet50.csv: one model's predictions in a CSV without a model column (the model is named after
# the file); vit.jsonl.gz: another's as JSON lines with a model field.
awk -F, 'NR == 1 { print "image,rank,label,score"; next } $2 == "efficientnet_lite0" { print $1 "," $3 "," $5 "," $6 }' \
  "$data/photos/predictions.csv" > resnet50.csv
awk -F, 'NR > 1 && $2 == "efficientnet_lite1" {
    if ($1 != img) { if (img != "") print line "]}"; img = $1; line = "{\"image\": \"" $1 "\", \"model\": \"vit\", \"topk\": ["; sep = "" }
    line = line sep "{\"label\": \"" $5 "\", \"score\": " $6 "}"; sep = ", " }
  END { if (img != "") print line "]}" }' "$data/photos/predictions.csv" | gzip > vit.jsonl.gz
echo '{"image": "ILSVRC2012_val_00000001.JPEG", "annotator": "ann", "present": ["n01751748", 66], "main": 66, "objects": 2}' \
  > classify.jsonl
ln -s "$data/models/efficientnet_lite0.onnx" resnet50.onnx

# --- Running a block ------------------------------------------------------------------------------

# The annotation screen in tmux: it must come up, and `q` must leave it with status 0.
annotate_in_tmux() {
  local cmd rc_file="$scratch/rc" err_file="$scratch/stderr" screen="" i
  rm -f "$rc_file"
  cmd="cd $(printf %q "$PWD") && HOME=$(printf %q "$HOME") LABELVET_DATA_DIR=$(printf %q "$LABELVET_DATA_DIR") $(printf '%q ' "$bin" "$@") 2>$(printf %q "$err_file"); echo \$? > $(printf %q "$rc_file")"
  tmux -L "$tmux_socket" new-session -d -s readme -x 160 -y 48 "$cmd"
  for i in $(seq 1 600); do
    [[ -f "$rc_file" ]] && break
    screen="$(tmux -L "$tmux_socket" capture-pane -p -t readme 2>/dev/null || true)"
    grep -q "annotator" <<<"$screen" && break
    sleep 0.1
  done
  if [[ -f "$rc_file" ]]; then
    echo "the screen did not open:" >&2
    cat "$err_file" >&2
    return 1
  fi
  if ! grep -q "annotator" <<<"$screen"; then
    echo "the screen did not come up within 60 s" >&2
    tmux -L "$tmux_socket" kill-server 2>/dev/null || true
    return 1
  fi
  # The team workflow's annotators answer one question, so that the `pack` after it has an
  # answer to send back (a file with none has nothing to pack, and `pack` fails saying so).
  if [[ " $* " == *" handout/"* ]]; then
    tmux -L "$tmux_socket" send-keys -t readme y
    for i in $(seq 1 50); do
      grep -q " 1/[0-9,]* answered" <<<"$(tmux -L "$tmux_socket" capture-pane -p -t readme 2>/dev/null || true)" && break
      sleep 0.1
    done
  fi
  tmux -L "$tmux_socket" send-keys -t readme q
  for i in $(seq 1 100); do
    [[ -f "$rc_file" ]] && break
    sleep 0.1
  done
  [[ -f "$rc_file" ]] || { echo "q did not quit the screen" >&2; return 1; }
  local rc
  rc="$(cat "$rc_file")"
  [[ "$rc" == 0 ]] || { echo "exit status $rc:" >&2; cat "$err_file" >&2; return 1; }
}

labelvet() {
  case "${1:-}" in
    annotate | demo) annotate_in_tmux "$@" ;;
    predict)
      # A labelvet built without `predict` still has the command, and says so when run.
      local out
      if out="$("$bin" "$@" 2>&1)"; then
        echo "$out"
      elif grep -q "built without ONNX" <<<"$out" && [[ "${CI:-}" != true ]]; then
        echo "  (skipped: this labelvet has no predict feature)"
      else
        echo "$out" >&2
        return 1
      fi
      ;;
    *) "$bin" "$@" ;;
  esac
}
export -f labelvet annotate_in_tmux
export bin scratch tmux_socket

# --- The blocks -----------------------------------------------------------------------------------
blocks="$scratch/blocks"
mkdir -p "$blocks"
awk -v dir="$blocks" '
  /^```sh[[:space:]]*$/ { n++; f = sprintf("%s/%03d.sh", dir, n); inside = 1; printf "" > f; next }
  /^```/ { if (inside) close(f); inside = 0; next }
  inside { print >> f }
' "$repo/README.md"

order() {
  local f rank
  for f in "$blocks"/*.sh; do
    rank=2
    grep -q '^labelvet init' "$f" && rank=0
    grep -q 'raters.csv.gz' "$f" && rank=1
    echo "$rank $f"
  done | sort -k1,1n -k2,2 | cut -d' ' -f2
}

failed=0
ran=0
start=$SECONDS
for f in $(order); do
  n="$(basename "$f" .sh)"
  # `cargo` lines are CI's own build and test steps.
  script="$(grep -v '^cargo ' "$f" || true)"
  if ! grep -q '^labelvet' <<<"$script"; then
    continue
  fi
  echo "== README block $((10#$n)) (${SECONDS}s)"
  sed 's/^/   /' <<<"$script"
  if bash -euo pipefail -c "$script" > "$scratch/out" 2>&1; then
    ran=$((ran + 1))
  else
    echo "FAILED: README block $((10#$n)):" >&2
    sed 's/^/   | /' "$scratch/out" >&2
    failed=$((failed + 1))
  fi
done
echo "readme_examples: $ran blocks ran, $failed failed, in $((SECONDS - start)) s"
[[ "$failed" == 0 ]]
