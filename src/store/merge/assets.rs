//! What a source brings besides events: the images the target lacks (and the images whose
//! bytes differ under one key), and the predictions of models the target lacks or has from
//! another import. Integer row ids never cross files: images are mapped by key, models by name.

use hashbrown::{HashMap, HashSet};

use rusqlite::types::ValueRef;
use rusqlite::{Transaction, params};

use super::{ImageConflict, SourceReport, TargetState};
use crate::error::Result;
use crate::store::images::{check_image_key, check_raw_path};
use crate::store::pack_read::{IMAGE_COLUMNS, PackContent};
use crate::store::untrusted::{
    MAX_NAME_BYTES, MAX_NOTE_BYTES, SourceFile, SourceRow, describe, door_str, refused,
};

const INSERT_IMAGE: &str = "INSERT INTO images(key, raw_path, original_label, sha256, bytes, width,
                    height, status, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
/// The same with its row id, for a merge's second pass.
const INSERT_IMAGE_AS: &str = "INSERT INTO images(key, raw_path, original_label, sha256, bytes,
                    width, height, status, error, id)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
const INSERT_MODEL_AS: &str =
    "INSERT INTO models(name, source, imported_at, id) VALUES (?1, ?2, ?3, ?4)";
const INSERT_PREDICTION: &str = "INSERT OR IGNORE INTO predictions(image_id, model_id, rank,
                    label, score) VALUES (?1, ?2, ?3, ?4, ?5)";

/// A model of a source: (row id, name, source, imported_at).
type SourceModel = (i64, String, Option<String>, String);

/// How the source's images map onto the target's, for the predictions and the events.
#[derive(Default)]
pub(super) struct ImageMap {
    /// source image id -> target image id (only when some model's predictions are read)
    ids: HashMap<i64, i64>,
    /// source ids and keys of images whose bytes differ from the target's
    conflicted: HashSet<i64>,
    pub conflicted_keys: HashSet<String>,
}

/// Adds the source's images the target lacks, notes conflicts, and merges the predictions of
/// its models that the target lacks or has from another import.
pub(super) fn merge_assets(
    tx: &Transaction<'_>,
    state: &mut TargetState,
    src: &SourceFile,
    r: &mut SourceReport,
) -> Result<ImageMap> {
    // A pack holds no models: only its images.
    if let Some(pack) = &src.pack {
        return merge_pack_images(tx, state, src, pack, r);
    }
    // A model both sides got from the same import is skipped whole; when every model is, the
    // source's image ids need no mapping.
    let models: Vec<SourceModel> = src
        .conn
        .prepare("SELECT id, name, source, imported_at FROM models ORDER BY name")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        })
        .map_err(|e| refused(&src.path, format!("its models table: {}", describe(&e))))?;
    let map_ids = models.iter().any(|(_, name, source, at)| {
        !matches!(state.models.get(name), Some((_, s, a)) if s == source && a == at)
    });
    let map = merge_images(tx, state, src, map_ids, r)?;
    for model in models {
        merge_predictions(tx, state, src, model, &map, r)?;
    }
    Ok(map)
}

/// Adds the images the target lacks, finds conflicts, maps ids for the predictions.
fn merge_images(
    tx: &Transaction<'_>,
    state: &mut TargetState,
    src: &SourceFile,
    map_ids: bool,
    r: &mut SourceReport,
) -> Result<ImageMap> {
    let path = src.path.as_path();
    let sq = |e: rusqlite::Error| refused(path, describe(&e));
    let mut map = ImageMap::default();
    let mut stmt = src
        .conn
        .prepare(
            "SELECT id, key, raw_path, original_label, sha256, bytes, width, height, status,
                    error FROM images",
        )
        .map_err(sq)?;
    let mut rows = stmt.query([]).map_err(sq)?;
    let mut insert = tx.prepare_cached(INSERT_IMAGE)?;
    while let Some(row) = rows.next().map_err(sq)? {
        let f = SourceRow::new(path, row, "images");
        merge_image(tx, &mut insert, state, &f, map_ids, &mut map, r)?;
    }
    Ok(map)
}

/// A pack's images (`store::pack_read`), through the same checks as a full file's rows.
fn merge_pack_images(
    tx: &Transaction<'_>,
    state: &mut TargetState,
    src: &SourceFile,
    pack: &PackContent,
    r: &mut SourceReport,
) -> Result<ImageMap> {
    let mut map = ImageMap::default();
    let mut values = Vec::with_capacity(IMAGE_COLUMNS.len());
    let mut insert = tx.prepare_cached(INSERT_IMAGE)?;
    for i in 0..pack.images.len() {
        values.clear();
        values.extend(pack.images.row(i).iter().map(|c| pack.value(c)));
        let f = SourceRow::from_values(&src.path, "images", IMAGE_COLUMNS, &values);
        merge_image(tx, &mut insert, state, &f, false, &mut map, r)?;
    }
    Ok(map)
}

/// One source image: mapped onto the target's image of its key (noting a conflict of bytes),
/// or checked and added.
fn merge_image(
    tx: &Transaction<'_>,
    insert: &mut rusqlite::Statement<'_>,
    state: &mut TargetState,
    f: &SourceRow<'_, '_>,
    map_ids: bool,
    map: &mut ImageMap,
    r: &mut SourceReport,
) -> Result<()> {
    let path = f.path;
    {
        let id = f.int(0)?;
        let key = f.text(1)?;
        let sha = f.opt_text(4)?;
        if let Some((tid, tsha)) = state.images.get(key) {
            if let (Some(t), Some(s)) = (tsha.as_deref(), sha)
                && t != s
            {
                r.conflicts.push(ImageConflict {
                    key: key.to_string(),
                    target_sha256: t.to_string(),
                    source_sha256: s.to_string(),
                });
                map.conflicted.insert(id);
                map.conflicted_keys.insert(key.to_string());
            }
            if map_ids {
                map.ids.insert(id, *tid);
            }
            return Ok(());
        }
        // Checked only when new: a key the target holds already passed this door.
        check_image_key(key).map_err(|why| refused(path, format!("images row {id}: {why}")))?;
        let raw_path = match f.get(2)? {
            ValueRef::Null => None,
            ValueRef::Blob(b) => Some(b.to_vec()),
            _ => return Err(f.bad(2, "is neither empty nor bytes")),
        };
        if let Some(raw) = &raw_path {
            check_raw_path(raw).map_err(|why| refused(path, format!("image {key}: {why}")))?;
        }
        f.door_text(3, MAX_NAME_BYTES)?;
        f.door_text(4, MAX_NAME_BYTES)?;
        f.door_text(9, MAX_NOTE_BYTES)?;
        let label = f.opt_text(3)?;
        let class = match label {
            Some(l) => Some(state.class(l).ok_or_else(|| {
                refused(
                    path,
                    format!("image {key} has original label `{l}`, not a class of the target"),
                )
            })?),
            None => None,
        };
        let status = f.text(8)?;
        if !matches!(status, "ok" | "missing" | "unreadable") {
            return Err(f.bad(8, "is not ok, missing or unreadable"));
        }
        let (bytes, width, height) = (f.opt_count(5)?, f.opt_count(6)?, f.opt_count(7)?);
        let error = f.opt_text(9)?;
        insert.execute(params![
            key, raw_path, label, sha, bytes, width, height, status, error
        ])?;
        let tid = tx.last_insert_rowid();
        state.wrote(INSERT_IMAGE_AS, || {
            vec![
                key.to_string().into(),
                raw_path.clone().into(),
                label.map(String::from).into(),
                sha.map(String::from).into(),
                bytes.into(),
                width.into(),
                height.into(),
                status.to_string().into(),
                error.map(String::from).into(),
                tid.into(),
            ]
        });
        if let Some(c) = class {
            state.candidate(tid, c, true);
        }
        state
            .images
            .insert(key.to_string(), (tid, sha.map(String::from)));
        map.ids.insert(id, tid);
        r.new_images += 1;
    }
    Ok(())
}

/// The predictions of one source model the target lacks, or has from another import.
fn merge_predictions(
    tx: &Transaction<'_>,
    state: &mut TargetState,
    src: &SourceFile,
    (sid, name, source, imported_at): SourceModel,
    map: &ImageMap,
    r: &mut SourceReport,
) -> Result<()> {
    let path = src.path.as_path();
    let sq = |e: rusqlite::Error| refused(path, describe(&e));
    door_str(path, "model name", &name, MAX_NAME_BYTES)?;
    door_str(
        path,
        "a model's source",
        source.as_deref().unwrap_or(""),
        MAX_NOTE_BYTES,
    )?;
    door_str(path, "a model's import time", &imported_at, MAX_NAME_BYTES)?;
    let tid = match state.models.get(&name) {
        Some((_, s, at)) if *s == source && *at == imported_at => return Ok(()),
        Some((tid, ..)) => {
            r.differing_models.push(name.clone());
            *tid
        }
        None => {
            tx.execute(
                "INSERT INTO models(name, source, imported_at) VALUES (?1, ?2, ?3)",
                params![name, source, imported_at],
            )?;
            let tid = tx.last_insert_rowid();
            state.wrote(INSERT_MODEL_AS, || {
                vec![
                    name.clone().into(),
                    source.clone().into(),
                    imported_at.clone().into(),
                    tid.into(),
                ]
            });
            state
                .models
                .insert(name.clone(), (tid, source.clone(), imported_at.clone()));
            r.new_models.push(name.clone());
            tid
        }
    };
    src.check_table("predictions")?;
    let mut stmt = src
        .conn
        .prepare("SELECT image_id, rank, label, score FROM predictions WHERE model_id = ?1")
        .map_err(sq)?;
    let mut rows = stmt.query([sid]).map_err(sq)?;
    let mut insert = tx.prepare_cached(INSERT_PREDICTION)?;
    while let Some(row) = rows.next().map_err(sq)? {
        let f = SourceRow::new(path, row, "predictions");
        let image = f.int(0)?;
        let Some(&timage) = map.ids.get(&image) else {
            return Err(refused(
                path,
                format!("a prediction of model {name} names image id {image}, not in its images"),
            ));
        };
        if map.conflicted.contains(&image) {
            continue;
        }
        let rank = f.int(1)?;
        if rank < 1 {
            return Err(f.bad(1, "is below 1"));
        }
        let label = f.text(2)?;
        let Some(class) = state.class(label) else {
            return Err(refused(
                path,
                format!("a prediction of model {name} names `{label}`, not a class of the target"),
            ));
        };
        let score = match f.get(3)? {
            ValueRef::Null => None,
            ValueRef::Real(x) => Some(x),
            ValueRef::Integer(i) => Some(i as f64),
            _ => return Err(f.bad(3, "is not a number")),
        };
        if insert.execute(params![timage, tid, rank, label, score])? == 1 {
            state.wrote(INSERT_PREDICTION, || {
                vec![
                    timage.into(),
                    tid.into(),
                    rank.into(),
                    label.to_string().into(),
                    score.into(),
                ]
            });
            r.new_predictions += 1;
            state.candidate(timage, class, false);
        }
    }
    Ok(())
}
