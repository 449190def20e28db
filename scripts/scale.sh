#!/usr/bin/env bash
# Scale measurements for issue #8 (figures in BENCHMARKS.md): every command at ImageNet-train size.
#
#   scripts/scale.sh                 # every step below, in order
#   scripts/scale.sh report summary  # only some steps (each reuses what earlier steps left)
#
# Steps:
#   build        release binary (with `predict`, as the test suite builds it) and the generator
#   gen          inputs, once: a 1,281,167-line manifest with ImageNet-train names
#                (n01440764/n01440764_10026.JPEG, the folder's wnid as label), 10 models' top-5
#                as JSONL.gz (12.8 M lines, 64 M predictions), and 5 annotators' answers to 5
#                candidates of the first 200,000 images (5,000,000 rows, CSV.gz)
#   init         `init --manifest` of the 1.28 M images, RUNS times
#   predictions  `predictions import` of the 10 models into a copy of that project, RUNS times
#   judgments    `judgments import` of the 5 M answers into a copy of the big project, once
#   report       `report` (frequency, and Dawid-Skene with --json) over the 5 M answers, RUNS times
#   export       `export --format parquet` of the 5 M answers (three files), RUNS times
#   queue        the queue without a class on 2.6 M answers: the first 2,600,000 of the 5 M
#                answers into a copy of the 1.28 M-image project (made once; its first selection
#                builds the answers' tally), then `annotate --disputed`, `--uncertain 0.2..0.8`
#                and `--needs 3`, each selected RUNS times
#   annotate     `annotate` opened in tmux on the 1.28 M-image project (10 models' candidates):
#                time to the first frame showing a question, peak RSS; then 5 answers, quit, and
#                a check that all 5 are on disk; RUNS times
#   merge        100 annotators' files of 10,000 answers each, made once (checkout + judgments
#                import), merged into a copy of their 50,000-image project, RUNS times; next to
#                raw sqlite3 (ATTACH + INSERT OR IGNORE per file) on the same files
#   summary      median wall time and peak RSS per command, from results.tsv
#
# Every timed run goes through `/usr/bin/time -v` (wall clock, maximum resident set size).
# Raw rows go to $SCALE_DIR/results.tsv (step, run, wall seconds, max RSS KiB, exit code).
# Environment: SCALE_DIR (default target/scale; needs about 25 GB), RUNS (default 3), FIRST_RUN
# (default 1: the number of the first run, to add runs to a step that was cut short).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${SCALE_DIR:-$ROOT/target/scale}
RUNS=${RUNS:-3}
FIRST_RUN=${FIRST_RUN:-1}
# The binary the runs use: a copy made by `build`, so that another build of the same tree
# (target/ is shared) cannot replace it in the middle of a step.
BIN=$DIR/bin/labelvet
GEN=$ROOT/target/release/examples/gen_project
IN=$DIR/in
RESULTS=$DIR/results.tsv
IMAGES=1281167
MODELS=10
mkdir -p "$DIR"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# measure STEP RUN CMD...: runs CMD under /usr/bin/time -v, appends a row to results.tsv.
measure() {
    local step=$1 run=$2
    shift 2
    local tv=$DIR/time.$step.$run.txt rc=0
    /usr/bin/time -v -o "$tv" "$@" >"$DIR/out.$step.$run.txt" 2>&1 || rc=$?
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
        n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$tv")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
    printf '%s\t%s\t%s\t%s\t%s\n' "$step" "$run" "$wall" "$rss" "$rc" >>"$RESULTS"
    log "$step #$run: ${wall}s, max RSS $((rss / 1024)) MiB, exit $rc (load $(cut -d' ' -f1-3 /proc/loadavg))"
    return "$rc"
}

step_build() {
    command -v /usr/bin/time >/dev/null || apt-get install -y time
    (cd "$ROOT" && cargo build --release --features predict --bin labelvet --example gen_project)
    mkdir -p "$DIR/bin"
    cp "$ROOT/target/release/labelvet" "$BIN.new" && mv "$BIN.new" "$BIN"
    log "using $BIN, built from $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" &&
        git diff --quiet HEAD -- src || echo ' plus uncommitted changes in src/')"
}

step_gen() {
    if [ -e "$IN/.complete" ]; then
        log "inputs already in $IN"
        return
    fi
    rm -rf "$IN"
    log "generating inputs into $IN"
    "$GEN" --images $IMAGES --models $MODELS --annotators 5 --names train \
        --answer-images 200000 --answer-labels 5 --files "$IN"
    touch "$IN/.complete"
    ls -l "$IN" >&2
}

step_init() {
    for r in $(seq "$FIRST_RUN" "$RUNS"); do
        rm -f "$DIR"/init.db*
        measure init "$r" "$BIN" init "$DIR/init.db" --manifest "$IN/manifest.csv"
    done
    mv "$DIR/init.db" "$DIR/base.db"
}

step_predictions() {
    for r in $(seq "$FIRST_RUN" "$RUNS"); do
        rm -f "$DIR"/pred.db*
        cp "$DIR/base.db" "$DIR/pred.db"
        measure predictions "$r" "$BIN" predictions import "$DIR/pred.db" "$IN"/model*.jsonl.gz
    done
    rm -f "$DIR"/big.db*
    mv "$DIR/pred.db" "$DIR/big.db"
    ls -l "$DIR/big.db" >&2
}

step_judgments() {
    rm -f "$DIR"/report.db*
    cp "$DIR/big.db" "$DIR/report.db"
    measure judgments 1 "$BIN" judgments import "$DIR/report.db" "$IN/answers.csv.gz"
}

step_report() {
    for r in $(seq "$FIRST_RUN" "$RUNS"); do
        measure report-frequency "$r" "$BIN" report "$DIR/report.db"
        measure report-dawid-skene-json "$r" \
            "$BIN" report "$DIR/report.db" --method dawid-skene --threshold 0.8 --json
    done
}

step_export() {
    for r in $(seq "$FIRST_RUN" "$RUNS"); do
        rm -rf "$DIR/export-parquet"
        measure export-parquet "$r" "$BIN" export "$DIR/report.db" --format parquet \
            -o "$DIR/export-parquet"
    done
    ls -l "$DIR/export-parquet" >&2
}

# `annotate` without a terminal selects the annotator's queue, then stops at "needs a terminal";
# a run passes when it got that far (and not, say, to "no image matches").
SELECT_QUEUE='"$0" annotate "$@" --annotator zed </dev/null 2>&1 | grep -q "needs a terminal"'

step_queue() {
    local q=$DIR/q26.db
    if [ ! -e "$DIR/.q26-complete" ]; then
        rm -f "$q"*
        log "making $q: the first 2,600,000 answers into a copy of base.db"
        # `head` closes the pipe early: zcat's SIGPIPE is expected.
        { zcat "$IN/answers.csv.gz" || true; } | head -n 2600001 | gzip -1 >"$DIR/a26.csv.gz"
        cp "$DIR/base.db" "$q"
        "$BIN" judgments import "$q" "$DIR/a26.csv.gz" >/dev/null
        bash -c "$SELECT_QUEUE" "$BIN" "$q" --disputed
        touch "$DIR/.q26-complete"
    fi
    for r in $(seq "$FIRST_RUN" "$RUNS"); do
        measure queue-disputed "$r" bash -c "$SELECT_QUEUE" "$BIN" "$q" --disputed
        measure queue-uncertain "$r" bash -c "$SELECT_QUEUE" "$BIN" "$q" --uncertain 0.2..0.8
        measure queue-needs "$r" bash -c "$SELECT_QUEUE" "$BIN" "$q" --needs 3
    done
}

# The screen in a private tmux server, 200x60, half-blocks (the images are not on disk: the
# manifest names them only, so the image pane shows its placeholder; the decode path is
# measured by benches/annotate.rs). First frame = the first capture of the pane that shows a
# candidate's question and the progress line, polled every 10 ms from the moment the command is
# typed into an idle shell. Peak RSS covers the whole run (open, 5 answers, quit).
step_annotate() {
    local sock=labelvet-scale-$$
    local t=(tmux -L "$sock" -f /dev/null)
    for r in $(seq "$FIRST_RUN" "$RUNS"); do
        local who=scale-bench-$r tv=$DIR/time.annotate.$r.txt
        rm -f "$tv"
        "${t[@]}" new-session -d -x 200 -y 60 -s scale "bash --norc --noprofile"
        sleep 0.5
        local t0 t1
        t0=$(date +%s%N)
        "${t[@]}" send-keys -t scale "exec /usr/bin/time -v -o $tv $BIN annotate $DIR/big.db --annotator $who --graphics halfblocks" Enter
        local ok=0
        for _ in $(seq 1 1000); do
            if "${t[@]}" capture-pane -p -t scale | grep -q 'answers/h\|answered'; then
                t1=$(date +%s%N)
                ok=1
                break
            fi
            sleep 0.01
        done
        "${t[@]}" capture-pane -p -t scale >"$DIR/screen.annotate.$r.txt"
        [ "$ok" = 1 ] || { log "annotate #$r: no frame within 10 s"; "${t[@]}" kill-server; return 1; }
        for _ in 1 2 3 4 5; do
            "${t[@]}" send-keys -t scale y
            sleep 0.3
        done
        "${t[@]}" send-keys -t scale q
        for _ in $(seq 1 500); do [ -s "$tv" ] && break; sleep 0.02; done
        "${t[@]}" kill-server 2>/dev/null || true
        local rss saved first
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
        first=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        saved=$(sqlite3 "file:$DIR/big.db?mode=ro" \
            "SELECT count(*) FROM judgments WHERE annotator = '$who'")
        printf 'annotate-first-frame\t%s\t%s\t%s\t%s\n' "$r" "$first" "$rss" \
            "$([ "$saved" = 5 ] && echo 0 || echo "saved=$saved")" >>"$RESULTS"
        log "annotate #$r: first frame ${first}s, max RSS $((rss / 1024)) MiB, answers on disk: $saved of 5"
    done
}

# 100 annotators' files of 10,000 answers each (all to the same 2,000 images x 5 candidates of a
# 50,000-image project with 3 models' predictions), each a `checkout` of the project filled by
# `judgments import`; then `merge` of all 100 into a fresh copy of the project, RUNS times, and
# the floor for the same rows: raw sqlite3 with, per file, ATTACH + INSERT OR IGNORE + DETACH.
step_merge() {
    local M=$DIR/merge
    if [ ! -e "$M/.complete" ]; then
        rm -rf "$M"
        mkdir -p "$M/files"
        log "making 100 annotator files in $M"
        "$GEN" --images 50000 --models 3 --annotators 100 --names val \
            --answer-images 2000 --answer-labels 5 --files "$M/in" >&2
        "$BIN" init "$M/project.db" --manifest "$M/in/manifest.csv" >/dev/null
        "$BIN" predictions import "$M/project.db" "$M/in"/model*.jsonl.gz >/dev/null
        zcat "$M/in/answers.csv.gz" | awk -F, -v d="$M/in" 'NR > 1 {
            f = d "/" $3 ".csv"
            if (!(f in seen)) { seen[f] = 1; print "image,label,annotator,answer" > f }
            print > f }'
        local a f
        for a in $(seq 0 99); do
            f=$(printf '%s/files/a%03d.db' "$M" "$a")
            "$BIN" checkout "$M/project.db" --annotator "annotator$a" -o "$f" >/dev/null
            "$BIN" judgments import "$f" "$M/in/annotator$a.csv" >/dev/null
        done
        touch "$M/.complete"
    fi
    local sql=$M/raw.sql f
    : >"$sql"
    for f in "$M"/files/a*.db; do
        printf "ATTACH '%s' AS s;\nINSERT OR IGNORE INTO main.judgments SELECT * FROM s.judgments;\nDETACH s;\n" "$f" >>"$sql"
    done
    for r in $(seq "$FIRST_RUN" "$RUNS"); do
        rm -f "$M"/work.db*
        cp "$M/project.db" "$M/work.db"
        measure merge "$r" "$BIN" merge "$M/work.db" "$M"/files/a*.db
        rm -f "$M"/raw.db*
        cp "$M/project.db" "$M/raw.db"
        measure merge-raw-sqlite3 "$r" sqlite3 "$M/raw.db" ".read $sql"
    done
    if [ "$RUNS" -ge "$FIRST_RUN" ]; then
        log "events after merge: labelvet $(sqlite3 "$M/work.db" 'SELECT count(*) FROM judgments'), raw sqlite3 $(sqlite3 "$M/raw.db" 'SELECT count(*) FROM judgments')"
    fi
}

# median COLUMN STEP: the median of one column of results.tsv over a step's runs.
median() {
    awk -F'\t' -v s="$2" -v c="$1" '$1 == s { print $c }' "$RESULTS" | sort -g | awk '
        { v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Median wall time and median peak RSS per step, as a Markdown table.
step_summary() {
    echo "| step | runs | median wall (s) | median peak RSS (MiB) | every run's wall (s) |"
    echo "|---|---|---|---|---|"
    for step in $(cut -f1 "$RESULTS" | awk '!seen[$0]++'); do
        local n all
        n=$(awk -F'\t' -v s="$step" '$1 == s' "$RESULTS" | wc -l)
        all=$(awk -F'\t' -v s="$step" '$1 == s { printf "%s%s", sep, $3; sep = " " }' "$RESULTS")
        printf '| %s | %d | %.2f | %.0f | %s |\n' "$step" "$n" "$(median 3 "$step")" \
            "$(awk -v k="$(median 4 "$step")" 'BEGIN { print k / 1024 }')" "$all"
    done
}

# ---- dispatch ----
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(build gen init predictions judgments report export queue annotate merge summary)
for s in "${steps[@]}"; do
    log "step $s"
    "step_$s"
done
