#!/usr/bin/env bash
# The trip back at team size (issue 18): the 100 annotators' files of `scripts/scale.sh merge`
# (each a 55 MB checkout of a 50,000-image project with 3 models, holding 10,000 answers of its
# annotator) packed with `labelvet pack`, and the 100 packs merged into a fresh copy of the
# project, next to the merge of the 100 full files, RUNS times each.
#
#   scripts/packs.sh            # makes the files first if scale.sh has not (RUNS=0 scale.sh merge)
#
# Every timed run goes through `/usr/bin/time -v` (wall clock, user and system CPU time, maximum
# resident set size), one row per run in $SCALE_DIR/packs.tsv: what, run, wall s, user s, sys s,
# max RSS KiB. Environment: SCALE_DIR (default target/scale), RUNS (default 3), BIN (default the
# binary scale.sh's build step copied to $SCALE_DIR/bin/labelvet).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${SCALE_DIR:-$ROOT/target/scale}
RUNS=${RUNS:-3}
BIN=${BIN:-$DIR/bin/labelvet}
M=$DIR/merge
OUT=$DIR/packs.tsv

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

measure() {
    local what=$1 run=$2
    shift 2
    local tv=$DIR/time.packs.$what.$run.txt
    /usr/bin/time -v -o "$tv" "$@" >"$DIR/out.packs.$what.$run.txt" 2>&1
    local row
    row=$(awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; wall = s }
        /User time/ { user = $2 } /System time/ { sys = $2 } /Maximum resident/ { rss = $2 }
        END { printf "%s\t%s\t%s\t%s", wall, user, sys, rss }' "$tv")
    printf '%s\t%s\t%s\n' "$what" "$run" "$row" >>"$OUT"
    log "$what #$run: wall, user, sys, RSS KiB = $row (load $(cut -d' ' -f1-3 /proc/loadavg))"
}

[ -e "$M/.complete" ] || RUNS=0 SCALE_DIR=$DIR "$ROOT/scripts/scale.sh" merge
mkdir -p "$M/packs"
rm -f "$M"/packs/*.lvpack
start=$(date +%s.%N)
for f in "$M"/files/a*.db; do
    "$BIN" pack "$f" -o "$M/packs/$(basename "$f" .db).lvpack" >/dev/null
done
log "100 packs made in $(echo "$(date +%s.%N) - $start" | bc) s; sizes (bytes):"
stat -c %s "$M"/packs/*.lvpack | sort -n | awk '{ a[NR] = $1; s += $1 }
    END { printf "  min %d, median %d, max %d, total %d\n", a[1], a[int((NR + 1) / 2)], a[NR], s }' >&2
for r in $(seq 1 "$RUNS"); do
    rm -f "$M"/work-packs.db*
    cp "$M/project.db" "$M/work-packs.db"
    measure merge-packs "$r" "$BIN" merge "$M/work-packs.db" "$M"/packs/a*.lvpack
    rm -f "$M"/work.db*
    cp "$M/project.db" "$M/work.db"
    measure merge-files "$r" "$BIN" merge "$M/work.db" "$M"/files/a*.db
done
if [ "$RUNS" -gt 0 ]; then
    log "events after merge: packs $(sqlite3 "$M/work-packs.db" 'SELECT count(*) FROM judgments'), files $(sqlite3 "$M/work.db" 'SELECT count(*) FROM judgments')"
fi
