//! The schema, as a list of forward migrations. Version N of the schema is the result of
//! applying migrations 1..=N in order; a file records its version in `meta` and in
//! `PRAGMA user_version`, and `PRAGMA application_id` marks it as a labelvet project.
//!
//! Identity follows the design: classes by key, images by key, judgments by UUID. Integer row ids
//! (`images.id`, `models.id`) never leave a file; merging maps them through the keys.

/// `LBVT` in ASCII: lets `open` tell a labelvet project from any other SQLite file.
pub const APPLICATION_ID: i32 = 0x4C42_5654;

pub const MIGRATIONS: &[&str] = &[
    // 1: the project file.
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE classes (
    key        TEXT PRIMARY KEY,
    idx        INTEGER UNIQUE,
    name       TEXT NOT NULL,
    synonyms   TEXT NOT NULL DEFAULT '',
    definition TEXT NOT NULL DEFAULT '',
    parent     TEXT,
    path       TEXT NOT NULL DEFAULT '',
    guideline  TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

CREATE TABLE images (
    id             INTEGER PRIMARY KEY,
    key            TEXT NOT NULL UNIQUE,
    -- the file's path below the image root as raw bytes, only when it is not valid UTF-8
    -- (the key then holds a lossy rendering)
    raw_path       BLOB,
    original_label TEXT REFERENCES classes(key),
    sha256         TEXT,
    bytes          INTEGER,
    width          INTEGER,
    height         INTEGER,
    status         TEXT NOT NULL CHECK (status IN ('ok', 'missing', 'unreadable')),
    error          TEXT
);
CREATE INDEX images_by_sha ON images(sha256) WHERE sha256 IS NOT NULL;

CREATE TABLE models (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    source      TEXT,
    imported_at TEXT NOT NULL
);

CREATE TABLE predictions (
    image_id INTEGER NOT NULL REFERENCES images(id),
    model_id INTEGER NOT NULL REFERENCES models(id),
    rank     INTEGER NOT NULL CHECK (rank >= 1),
    label    TEXT NOT NULL REFERENCES classes(key),
    score    REAL,
    PRIMARY KEY (image_id, model_id, rank)
) WITHOUT ROWID;
CREATE INDEX predictions_by_model ON predictions(model_id);

-- Derived from images.original_label, predictions and judgments; rebuilt after each import.
CREATE TABLE candidates (
    image_id    INTEGER NOT NULL REFERENCES images(id),
    label       TEXT NOT NULL REFERENCES classes(key),
    is_original INTEGER NOT NULL,
    PRIMARY KEY (image_id, label)
) WITHOUT ROWID;

-- Append-only. An annotator's current answer for (image, label) is their latest answer event
-- that no retraction names; "latest" is (created_at, id).
CREATE TABLE judgments (
    id         TEXT PRIMARY KEY,
    image      TEXT NOT NULL,
    label      TEXT NOT NULL,
    answer     TEXT NOT NULL CHECK (answer IN ('yes', 'no', 'maybe', 'retract')),
    retracts   TEXT,
    annotator  TEXT NOT NULL,
    session    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    elapsed_ms INTEGER,
    origin     TEXT NOT NULL DEFAULT 'annotate',
    CHECK ((answer = 'retract') = (retracts IS NOT NULL))
) WITHOUT ROWID;
CREATE INDEX judgments_by_item ON judgments(image, label, annotator);
CREATE INDEX judgments_by_annotator ON judgments(annotator, created_at);
CREATE INDEX judgments_retracts ON judgments(retracts) WHERE retracts IS NOT NULL;

-- Flags on whole images (broken, ambiguous, needs an expert); append-only like judgments,
-- a flag is lifted by a later event with kind 'clear'.
CREATE TABLE flags (
    id         TEXT PRIMARY KEY,
    image      TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('broken', 'ambiguous', 'expert', 'clear')),
    note       TEXT NOT NULL DEFAULT '',
    annotator  TEXT NOT NULL,
    session    TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX flags_by_image ON flags(image);
"#,
    // 2: team work. Which images an annotator's file was made for, and which files were merged in.
    r#"
-- The images an annotator's file was given by `labelvet assign`. An annotator with no rows here
-- works on every image. Not merged: an assignment is a work order for one file, not a record of
-- what was done.
CREATE TABLE assignments (
    annotator TEXT NOT NULL,
    image     TEXT NOT NULL,
    PRIMARY KEY (annotator, image)
) WITHOUT ROWID;

-- One row per source file merged in (never by a dry run).
CREATE TABLE merge_log (
    id               INTEGER PRIMARY KEY,
    merged_at        TEXT NOT NULL,
    source_file      TEXT NOT NULL,
    source_uuid      TEXT NOT NULL,
    source_schema    INTEGER NOT NULL,
    -- JSON object: annotator -> events of theirs the merge added (0 when all were present)
    annotators       TEXT NOT NULL,
    new_events       INTEGER NOT NULL,
    duplicate_events INTEGER NOT NULL,
    new_flags        INTEGER NOT NULL,
    new_images       INTEGER NOT NULL,
    new_models       INTEGER NOT NULL,
    new_predictions  INTEGER NOT NULL,
    -- images whose bytes differ under one key, where --keep-target kept the target's record
    conflicts_kept   INTEGER NOT NULL
);
"#,
    // 3: the CLASSIFY task (Tsipras et al. 2020): for an image with two or more valid labels,
    // which of them are separate objects, which one is the main object, and how many objects.
    r#"
-- Append-only, like judgments: an annotator's current classify answer for an image is their
-- latest answer event (greatest (created_at, id)) that no retraction names. `present` is a JSON
-- array of class keys, sorted and without repeats, so that one answer has one spelling and a
-- merge by id can compare rows byte for byte. A retraction carries only `retracts`.
CREATE TABLE classify (
    id         TEXT PRIMARY KEY,
    image      TEXT NOT NULL,
    present    TEXT CHECK (present LIKE '["%"]'),
    main       TEXT,
    objects    INTEGER CHECK (objects >= 1),
    retracts   TEXT,
    annotator  TEXT NOT NULL,
    session    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    elapsed_ms INTEGER,
    origin     TEXT NOT NULL DEFAULT 'annotate',
    CHECK ((retracts IS NULL) = (present IS NOT NULL)),
    CHECK ((retracts IS NULL) = (main IS NOT NULL)),
    CHECK ((retracts IS NULL) = (objects IS NOT NULL))
) WITHOUT ROWID;
CREATE INDEX classify_by_item ON classify(image, annotator);
CREATE INDEX classify_by_annotator ON classify(annotator, created_at);
CREATE INDEX classify_retracts ON classify(retracts) WHERE retracts IS NOT NULL;

-- Classify events a merged source brought, and those the target already had.
ALTER TABLE merge_log ADD COLUMN new_classify INTEGER NOT NULL DEFAULT 0;
ALTER TABLE merge_log ADD COLUMN duplicate_classify INTEGER NOT NULL DEFAULT 0;
"#,
    // 4: answer quality (issue 15). Gold answers: experts' answers to questions whose truth
    // (their majority of yes against no) scores the annotators; verdicts: an expert's decision
    // of a question, which overrides the annotators' answers. Both are append-only like
    // judgments, with the same shape, so that they fold, merge and undo the same way.
    r#"
CREATE TABLE gold (
    id         TEXT PRIMARY KEY,
    image      TEXT NOT NULL,
    label      TEXT NOT NULL,
    answer     TEXT NOT NULL CHECK (answer IN ('yes', 'no', 'maybe', 'retract')),
    retracts   TEXT,
    annotator  TEXT NOT NULL,
    session    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    elapsed_ms INTEGER,
    origin     TEXT NOT NULL DEFAULT 'import',
    CHECK ((answer = 'retract') = (retracts IS NOT NULL))
) WITHOUT ROWID;
CREATE INDEX gold_by_item ON gold(image, label, annotator);
CREATE INDEX gold_retracts ON gold(retracts) WHERE retracts IS NOT NULL;

CREATE TABLE verdicts (
    id         TEXT PRIMARY KEY,
    image      TEXT NOT NULL,
    label      TEXT NOT NULL,
    verdict    TEXT NOT NULL CHECK (verdict IN ('yes', 'no', 'maybe', 'retract')),
    retracts   TEXT,
    annotator  TEXT NOT NULL,
    session    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    elapsed_ms INTEGER,
    origin     TEXT NOT NULL DEFAULT 'review',
    CHECK ((verdict = 'retract') = (retracts IS NOT NULL))
) WITHOUT ROWID;
CREATE INDEX verdicts_by_item ON verdicts(image, label, annotator);
CREATE INDEX verdicts_retracts ON verdicts(retracts) WHERE retracts IS NOT NULL;

ALTER TABLE merge_log ADD COLUMN new_gold INTEGER NOT NULL DEFAULT 0;
ALTER TABLE merge_log ADD COLUMN duplicate_gold INTEGER NOT NULL DEFAULT 0;
ALTER TABLE merge_log ADD COLUMN new_verdicts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE merge_log ADD COLUMN duplicate_verdicts INTEGER NOT NULL DEFAULT 0;
"#,
    // 5: a queue narrowed to some classes (`annotate --class`, `--subtree`) reads their
    // candidates by label instead of scanning every candidate of the project.
    r#"
CREATE INDEX candidates_by_label ON candidates(label);
"#,
    // 6: images carried inside an annotator's file (`checkout --with-images`), so that the file
    // is all an annotator needs. Never merged: the project has the files; these are a copy for
    // the trip out (see `store::carried`).
    r#"
-- `sha256` is the SHA-256 of `data`. `resized_from` is NULL when `data` is the image file as the
-- project recorded it (then `sha256` equals the image's `images.sha256`), else the recorded
-- SHA-256 of the file it was re-encoded from, down to `max_side` pixels on the long side.
CREATE TABLE image_blobs (
    image        TEXT PRIMARY KEY,
    sha256       TEXT NOT NULL,
    resized_from TEXT,
    max_side     INTEGER,
    data         BLOB NOT NULL
);
"#,
    // 7: no index of predictions by model. Every import paid for it (building it over 64 M
    // predictions of 10 models on ImageNet-train: about 35 s of a 155 s import), and what used
    // it reads as well in one pass over the primary key: `info`'s per-model counts, the merge's
    // read of one source model, and the removal of a model's old rows (now once per import, for
    // every model it brings). Dropping it only frees its pages: no table is rewritten.
    r#"
DROP INDEX IF EXISTS predictions_by_model;
"#,
    // 8: each question's current answers counted, so that a queue filtered by answers
    // (`--disputed`, `--uncertain`, `--needs`) reads one row per answered question instead of
    // folding every judgment (see `store::tally`). Derived, like `candidates`: never merged, never
    // carried, never read from another file. `IF NOT EXISTS`: SQLite stores the statement
    // without it, so the schema is the same whichever way it was made.
    r#"
-- The current answers (each annotator's latest answer that no retraction names) to each
-- question with at least one, counted by answer. It holds the fold of the judgments only while
-- `answer_tally_stamp` holds the number of judgments (events are only ever added, so any write
-- that does not keep the tally changes that number); otherwise it is rebuilt before it is read.
CREATE TABLE IF NOT EXISTS answer_tally (
    image TEXT NOT NULL,
    label TEXT NOT NULL,
    yes   INTEGER NOT NULL,
    no    INTEGER NOT NULL,
    maybe INTEGER NOT NULL,
    PRIMARY KEY (image, label)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS answer_tally_stamp (
    judgments INTEGER NOT NULL
);
"#,
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
