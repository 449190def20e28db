//! The answer tally: each question's current answers (yes, no, maybe; all annotators together),
//! kept in the project file (`answer_tally`), so that a queue filtered by answers
//! (`--disputed`, `--uncertain`, `--needs` without `--class`) reads one small row per answered
//! question, in (image, label) order, instead of folding every judgment each time (2.6 M
//! answers take about 2 s of CPU to fold, more than the whole selection may).
//!
//! The tally is derived, and it is trusted only while its stamp (`answer_tally_stamp`) equals
//! the number of judgments in the file. Events are only ever added, never changed or deleted,
//! so every write of a judgment changes that number: a path that does not keep the tally (an
//! import, a merge, a checkout's copy, any path added later) leaves it stale, never wrong. The
//! annotation session's writes (an answer, a grid page, an undo) do keep it: in their own
//! transaction they count again the questions they wrote to, from the question index, and add
//! what they wrote to the stamp. A stale tally is rebuilt by the next selection that reads it,
//! from the event log's one fold ([`Store::current_answer_table`]): that one selection costs
//! what every selection cost before (the fold), plus writing the tally.
//!
//! Nothing reads another file's tally: a merge takes only the events of a source, and a
//! checkout starts with an empty, stale tally.

use rusqlite::{Connection, OptionalExtension, params};

use super::events;
use super::judgments::JUDGMENTS;
use crate::error::Result;

/// One question's current answers, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub yes: i64,
    pub no: i64,
    pub maybe: i64,
}

impl Tally {
    pub fn total(&self) -> i64 {
        self.yes + self.no + self.maybe
    }
}

/// Whether the tally holds the fold of the file's judgments: it has one stamp, equal to their
/// number. Read inside the transaction that then reads the tally, so that both see one state.
pub(crate) fn is_current(conn: &Connection) -> Result<bool> {
    let stamps: Vec<i64> = conn
        .prepare("SELECT judgments FROM answer_tally_stamp")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let [stamp] = stamps[..] else {
        return Ok(false);
    };
    Ok(u64::try_from(stamp).ok() == Some(events::count(conn, &JUDGMENTS)?))
}

/// Replaces the tally with `rows` (questions in any order, each once, with at least one
/// answer), the fold of the `judgments` events the file holds in this transaction.
pub(crate) fn replace<'a>(
    conn: &Connection,
    judgments: u64,
    rows: impl IntoIterator<Item = (&'a str, &'a str, Tally)>,
) -> rusqlite::Result<()> {
    conn.execute_batch("DELETE FROM answer_tally; DELETE FROM answer_tally_stamp;")?;
    let mut insert = conn.prepare(
        "INSERT INTO answer_tally(image, label, yes, no, maybe) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (image, label, t) in rows {
        insert.execute(params![image, label, t.yes, t.no, t.maybe])?;
    }
    conn.execute(
        "INSERT INTO answer_tally_stamp(judgments) VALUES (?1)",
        [judgments as i64],
    )?;
    Ok(())
}

/// Keeps the tally after judgment events `ids` were written in this transaction (`added` of
/// them new): their questions are counted again and the stamp moves by `added`. A stale
/// tally stays stale (its stamp was off before and is off by as much after); a file with no
/// tally yet is left for the next selection to build.
pub(crate) fn after_write(conn: &Connection, ids: &[String], added: u64) -> Result<()> {
    if added == 0 {
        return Ok(());
    }
    let kept = conn.execute(
        "UPDATE answer_tally_stamp SET judgments = judgments + ?1",
        [added as i64],
    )?;
    if kept == 0 {
        return Ok(());
    }
    let mut question = conn.prepare_cached("SELECT image, label FROM judgments WHERE id = ?1")?;
    let mut questions: Vec<(String, String)> = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(q) = question
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
        {
            questions.push(q);
        }
    }
    questions.sort_unstable();
    questions.dedup();
    for (image, label) in &questions {
        recount(conn, image, label)?;
    }
    Ok(())
}

/// Counts one question's current answers again from the question index (each annotator's
/// latest answer by (created_at, id) that no retraction names) and writes its row, or drops it
/// when no answer stands.
fn recount(conn: &Connection, image: &str, label: &str) -> Result<()> {
    let t: Tally = conn
        .prepare_cached(
            "SELECT coalesce(sum(answer = 'yes'), 0), coalesce(sum(answer = 'no'), 0),
                    coalesce(sum(answer = 'maybe'), 0)
             FROM (SELECT answer, row_number() OVER (PARTITION BY annotator
                                                     ORDER BY created_at DESC, id DESC) AS n
                   FROM judgments j INDEXED BY judgments_by_item
                   WHERE image = ?1 AND label = ?2 AND retracts IS NULL
                     AND NOT EXISTS (SELECT 1 FROM judgments r WHERE r.retracts = j.id))
             WHERE n = 1",
        )?
        .query_row([image, label], |r| {
            Ok(Tally {
                yes: r.get(0)?,
                no: r.get(1)?,
                maybe: r.get(2)?,
            })
        })?;
    if t.total() == 0 {
        conn.prepare_cached("DELETE FROM answer_tally WHERE image = ?1 AND label = ?2")?
            .execute([image, label])?;
    } else {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO answer_tally(image, label, yes, no, maybe)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![image, label, t.yes, t.no, t.maybe])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;
    use crate::store::checkout::{CheckoutOptions, checkout};
    use crate::store::merge::MergeOptions;
    use crate::store::{Answer, ImageRecord, JudgmentEvent, QueueFilter, Store, test_store};

    /// A question and its answer, as the strategies draw them: image, label, annotator, answer.
    type Q = (u8, u8, u8, u8);

    const IMAGES: [&str; 3] = ["img0", "img1", "img2"];
    const LABELS: [&str; 2] = ["a", "b"];
    const WHO: [&str; 3] = ["ann", "bob", "peer"];

    type Rows = BTreeMap<(String, String), Tally>;

    /// The tally as stored.
    fn stored(s: &Store) -> Rows {
        let mut stmt = s
            .conn()
            .prepare("SELECT image, label, yes, no, maybe FROM answer_tally")
            .unwrap();
        stmt.query_map([], |r| {
            Ok((
                (r.get(0)?, r.get(1)?),
                Tally {
                    yes: r.get(2)?,
                    no: r.get(3)?,
                    maybe: r.get(4)?,
                },
            ))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    /// The event log's fold of the current answers, counted per question.
    fn folded(s: &Store) -> Rows {
        let mut out = Rows::new();
        for a in s.current_answers().unwrap() {
            let t = out.entry((a.image, a.label)).or_default();
            match a.answer {
                Answer::Yes => t.yes += 1,
                Answer::No => t.no += 1,
                Answer::Maybe => t.maybe += 1,
            }
        }
        out
    }

    fn current(s: &Store) -> bool {
        is_current(s.conn()).unwrap()
    }

    /// An event of `who` on question (`image`, `label`) at time `t`: long before any answer
    /// given now, or long after (`t` ≥ 100).
    fn event(id: String, q: Q, t: i64) -> JudgmentEvent {
        let (image, label, who, answer) = q;
        JudgmentEvent {
            id,
            image: IMAGES[image as usize].into(),
            label: LABELS[label as usize].into(),
            answer: Some(Answer::ALL[answer as usize]),
            retracts: None,
            annotator: WHO[who as usize].into(),
            session: "s".into(),
            created_at: if t < 100 {
                1000 + t
            } else {
                4_000_000_000_000 + t
            },
            elapsed_ms: None,
            origin: "import".into(),
        }
    }

    /// A retraction of `target`, as the annotator would make it, at time `t`.
    fn retraction(id: String, target: &JudgmentEvent, t: i64) -> JudgmentEvent {
        JudgmentEvent {
            id,
            answer: None,
            retracts: Some(target.id.clone()),
            created_at: target.created_at.max(1000 + t),
            ..target.clone()
        }
    }

    /// Events with ids out of time order, and retractions of some of them (or of `earlier`
    /// events, which may themselves be retractions).
    fn events(
        step: usize,
        qs: &[(Q, i64)],
        undo: &[usize],
        earlier: &[JudgmentEvent],
    ) -> Vec<JudgmentEvent> {
        // UUIDs (a merge takes no other ids) in another order than the times.
        let id = |order: i64, kind: u32, i: usize| {
            format!("{order:08x}-{step:04x}-7{kind:03x}-8000-{i:012x}")
        };
        let mut out: Vec<JudgmentEvent> = qs
            .iter()
            .enumerate()
            .map(|(i, &(q, t))| event(id((t * 37) % 101, 0, i), q, t))
            .collect();
        let made = out.len();
        for (n, &u) in undo.iter().enumerate() {
            let pool = made + earlier.len();
            if pool > 0 {
                let target = out[..made]
                    .get(u % pool)
                    .or_else(|| earlier.get(u % pool - made))
                    .cloned()
                    .unwrap();
                out.push(retraction(id(u as i64 % 101, 1, n), &target, u as i64 % 7));
            }
        }
        out
    }

    #[derive(Clone, Debug)]
    enum Step {
        /// `annotate`: one answer, now.
        Answer(Q),
        /// A grid page: several answers of one annotator in one transaction.
        Grid(Vec<(u8, u8, u8)>, u8),
        /// Undo of one or several events (answers or retractions) in the file.
        Undo(Vec<usize>),
        /// Events written by `insert_events` (what tests and tools write), older or newer.
        Insert(Vec<(Q, i64)>, Vec<usize>),
        /// `judgments import` of a CSV file.
        Import(Vec<(Q, i64)>),
        /// A peer's file (a checkout with everyone's answers) given events, merged back whole
        /// or as a pack.
        Merge(Vec<(Q, i64)>, Vec<usize>, bool),
        /// A selection that reads answers, which builds a stale tally.
        Select(u8),
    }

    fn q() -> impl Strategy<Value = Q> {
        (0u8..3, 0u8..2, 0u8..3, 0u8..3)
    }

    fn timed() -> impl Strategy<Value = Vec<(Q, i64)>> {
        proptest::collection::vec((q(), 0i64..200), 1..6)
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => q().prop_map(Step::Answer),
            1 => (proptest::collection::vec((0u8..3, 0u8..2, 0u8..3), 1..4), 0u8..3)
                .prop_map(|(a, w)| Step::Grid(a, w)),
            2 => proptest::collection::vec(0usize..1000, 1..3).prop_map(Step::Undo),
            1 => (timed(), proptest::collection::vec(0usize..1000, 0..3))
                .prop_map(|(e, u)| Step::Insert(e, u)),
            1 => timed().prop_map(Step::Import),
            1 => (timed(), proptest::collection::vec(0usize..1000, 0..3), any::<bool>())
                .prop_map(|(e, u, p)| Step::Merge(e, u, p)),
            2 => (0u8..3).prop_map(Step::Select),
        ]
    }

    fn filter(which: u8) -> QueueFilter {
        match which {
            0 => QueueFilter {
                disputed: true,
                ..QueueFilter::default()
            },
            1 => QueueFilter {
                uncertain: Some((0.2, 0.8)),
                ..QueueFilter::default()
            },
            _ => QueueFilter {
                needs: Some(2),
                ..QueueFilter::default()
            },
        }
    }

    fn project() -> (tempfile::TempDir, Store) {
        let (dir, s) = test_store(&LABELS);
        let images: Vec<ImageRecord> = IMAGES
            .iter()
            .enumerate()
            .map(|(i, k)| ImageRecord::missing(k.to_string(), Some(LABELS[i % 2].into())))
            .collect();
        s.insert_images(&images).unwrap();
        crate::store::predictions::rebuild_candidates(s.conn()).unwrap();
        (dir, s)
    }

    fn run(dir: &Path, s: &mut Store, n: usize, step: &Step) {
        let all = s.events().unwrap();
        let pick = |u: usize| all.get(u % all.len().max(1)).cloned();
        match step {
            Step::Answer((image, label, who, answer)) => {
                s.append_answer(
                    IMAGES[*image as usize],
                    LABELS[*label as usize],
                    Answer::ALL[*answer as usize],
                    WHO[*who as usize],
                    "s",
                    None,
                )
                .unwrap();
            }
            Step::Grid(answers, who) => {
                let answers: Vec<(String, String, Answer)> = answers
                    .iter()
                    .map(|&(i, l, a)| {
                        (
                            IMAGES[i as usize].to_string(),
                            LABELS[l as usize].to_string(),
                            Answer::ALL[a as usize],
                        )
                    })
                    .collect();
                s.append_answers(&answers, WHO[*who as usize], "s", None)
                    .unwrap();
            }
            Step::Undo(picks) => {
                let targets: Vec<JudgmentEvent> = picks.iter().filter_map(|&u| pick(u)).collect();
                match targets.len() {
                    0 => {}
                    1 => {
                        s.append_retraction(&targets[0], "s").unwrap();
                    }
                    _ => {
                        s.append_retractions(&targets, "s").unwrap();
                    }
                }
            }
            Step::Insert(qs, undo) => {
                s.insert_events(&events(n, qs, undo, &all)).unwrap();
            }
            Step::Import(qs) => {
                let mut csv = String::from("image,label,annotator,answer,time\n");
                for &((image, label, who, answer), t) in qs {
                    csv.push_str(&format!(
                        "{},{},{},{},{}\n",
                        IMAGES[image as usize],
                        LABELS[label as usize],
                        WHO[who as usize],
                        Answer::ALL[answer as usize].as_str(),
                        1000 + t
                    ));
                }
                let file = dir.join(format!("import{n}.csv"));
                std::fs::write(&file, csv).unwrap();
                crate::ingest::judgments::import_judgments(s, &file, &Default::default()).unwrap();
            }
            Step::Merge(qs, undo, as_pack) => {
                let peer = dir.join(format!("peer{n}.db"));
                let opts = CheckoutOptions {
                    annotator: "peer",
                    with_answers: true,
                    assignment: None,
                    assignment_note: None,
                    leave_out: None,
                    with_images: None,
                };
                checkout(s, &peer, &opts).unwrap();
                let p = Store::open(&peer).unwrap();
                // A merge takes retractions of answers only.
                let answers: Vec<JudgmentEvent> =
                    all.iter().filter(|e| e.answer.is_some()).cloned().collect();
                // The peer answers at least once, or there is nothing to pack.
                let mut qs = qs.clone();
                qs[0].0.2 = 2;
                p.insert_events(&events(n, &qs, undo, &answers)).unwrap();
                let source = if *as_pack {
                    let out = dir.join(format!("peer{n}.lvpack"));
                    crate::store::pack::pack(&p, &out, false).unwrap();
                    out
                } else {
                    peer.clone()
                };
                drop(p);
                // The peer's file carries the answers of others it was given (with_answers).
                let opts = MergeOptions {
                    allow_other_annotators: true,
                    ..MergeOptions::default()
                };
                s.merge(&[source], &opts, &mut |_| {}).unwrap();
            }
            Step::Select(which) => {
                let f = filter(*which);
                let by_fold = QueueFilter {
                    labels: Some(LABELS.iter().map(|l| l.to_string()).collect()),
                    ..f.clone()
                };
                let want = s.select_images(&by_fold).unwrap();
                assert_eq!(s.select_images(&f).unwrap(), want, "{f:?}");
                assert!(current(s));
                assert_eq!(s.select_images(&f).unwrap(), want, "{f:?} from the tally");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        /// Whatever writes the judgments (answers, grid pages, undo of answers and of
        /// retractions, inserted and imported events older or newer than the file's, merges of
        /// full files and packs), a tally the stamp calls current is the fold of the current
        /// answers; the session's writes keep a current tally current; and a selection from
        /// the tally is the selection from the fold.
        #[test]
        fn a_current_tally_is_the_fold_of_the_current_answers(
            steps in proptest::collection::vec(step(), 1..14),
        ) {
            let (dir, mut s) = project();
            for (n, step) in steps.iter().enumerate() {
                let was = current(&s);
                run(dir.path(), &mut s, n, step);
                if was && matches!(step, Step::Answer(_) | Step::Grid(..) | Step::Undo(_)) {
                    prop_assert!(current(&s), "{step:?} left the tally stale");
                }
                if current(&s) {
                    prop_assert_eq!(stored(&s), folded(&s), "after {:?}", step);
                }
            }
        }
    }

    #[test]
    fn a_file_without_a_tally_builds_it_at_its_first_selection_and_keeps_it() {
        let (_dir, s) = project();
        s.append_answer("img0", "a", Answer::Yes, "ann", "s", None)
            .unwrap();
        assert!(!current(&s));
        s.select_images(&filter(0)).unwrap();
        assert!(current(&s));
        s.append_answer("img0", "a", Answer::No, "bob", "s", None)
            .unwrap();
        assert!(current(&s));
        let t = stored(&s)[&("img0".to_string(), "a".to_string())];
        assert_eq!((t.yes, t.no, t.maybe), (1, 1, 0));
        // An event written by a path that does not keep the tally leaves it stale.
        let e = event("zz".into(), (1, 0, 0, 0), 5);
        s.insert_events(std::slice::from_ref(&e)).unwrap();
        assert!(!current(&s));
    }

    /// Answers of three annotators (one question disputed), and the tally stale: the last
    /// event came by a path that does not keep it.
    fn answered_and_stale() -> (tempfile::TempDir, Store) {
        let (dir, s) = project();
        for (image, label, who, answer) in [
            ("img0", "a", "ann", Answer::Yes),
            ("img0", "a", "bob", Answer::No),
            ("img1", "b", "ann", Answer::Yes),
            ("img2", "a", "peer", Answer::Maybe),
        ] {
            s.append_answer(image, label, answer, who, "s", None)
                .unwrap();
        }
        s.select_images(&filter(0)).unwrap();
        assert!(current(&s));
        s.insert_events(&[event("zz".into(), (1, 1, 1, 1), 5)])
            .unwrap();
        assert!(!current(&s));
        (dir, s)
    }

    /// The selection of filter `which`, from the fold (every class named: no tally read).
    fn by_fold(s: &Store, which: u8) -> Vec<crate::store::QueueImage> {
        s.select_images(&QueueFilter {
            labels: Some(LABELS.iter().map(|l| l.to_string()).collect()),
            ..filter(which)
        })
        .unwrap()
    }

    #[test]
    fn a_selection_while_another_process_writes_uses_the_fold_and_does_not_wait() {
        let (_dir, s) = answered_and_stale();
        let want: Vec<_> = (0..3).map(|w| by_fold(&s, w)).collect();
        let other = Connection::open(s.path()).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let started = std::time::Instant::now();
        for w in 0..3 {
            assert_eq!(s.select_images(&filter(w)).unwrap(), want[w as usize]);
        }
        // Its read transaction asks for the write lock without waiting for it.
        assert!(started.elapsed() < crate::store::BUSY_TIMEOUT / 4);
        assert!(!current(&s));
        other.execute_batch("COMMIT").unwrap();
        // The next selection that can write builds it.
        assert_eq!(s.select_images(&filter(1)).unwrap(), want[1]);
        assert!(current(&s));
        assert_eq!(stored(&s), folded(&s));
    }

    #[test]
    fn a_selection_that_finds_the_disk_full_uses_the_fold() {
        let (_dir, s) = answered_and_stale();
        // More answered questions than the file's free pages hold.
        let many: Vec<JudgmentEvent> = (0..3000)
            .map(|i| JudgmentEvent {
                image: format!("far{i:05}"),
                ..event(format!("ev{i:05}"), (0, 0, 0, 0), 1)
            })
            .collect();
        s.insert_events(&many).unwrap();
        let want: Vec<_> = (0..3).map(|w| by_fold(&s, w)).collect();
        let pages: i64 = s
            .conn()
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        s.conn()
            .pragma_update(None, "max_page_count", pages)
            .unwrap();
        for w in 0..3 {
            assert_eq!(s.select_images(&filter(w)).unwrap(), want[w as usize]);
        }
        assert!(!current(&s));
        s.conn()
            .pragma_update(None, "max_page_count", 1_000_000_000)
            .unwrap();
        assert_eq!(s.select_images(&filter(2)).unwrap(), want[2]);
        assert!(current(&s));
        assert_eq!(stored(&s), folded(&s));
    }

    /// A project with one answer, and its tally built by a selection.
    fn tallied_project() -> (tempfile::TempDir, Store) {
        let (dir, s) = project();
        s.append_answer("img0", "a", Answer::Yes, "ann", "s", None)
            .unwrap();
        s.select_images(&filter(0)).unwrap();
        assert!(current(&s));
        (dir, s)
    }

    #[test]
    fn an_answer_whose_tally_cannot_be_written_is_not_written_either() {
        let (_dir, s) = tallied_project();
        // The tally's update fails after the answer's insert, in the same transaction (as a
        // crash between the two would end it): neither lands.
        s.conn()
            .execute_batch(
                "CREATE TEMP TRIGGER no_tally BEFORE INSERT ON main.answer_tally
                 BEGIN SELECT RAISE(ABORT, 'no tally'); END;
                 CREATE TEMP TRIGGER no_untally BEFORE DELETE ON main.answer_tally
                 BEGIN SELECT RAISE(ABORT, 'no tally'); END;",
            )
            .unwrap();
        let before = s.events().unwrap();
        assert!(
            s.append_answer("img1", "a", Answer::No, "bob", "s", None)
                .is_err()
        );
        let grid = [("img2".to_string(), "b".to_string(), Answer::Yes)];
        assert!(s.append_answers(&grid, "bob", "s", None).is_err());
        assert!(s.append_retraction(&before[0], "s").is_err());
        assert_eq!(s.events().unwrap(), before);
        assert!(current(&s));
        assert_eq!(stored(&s), folded(&s));
        s.conn()
            .execute_batch("DROP TRIGGER temp.no_tally; DROP TRIGGER temp.no_untally;")
            .unwrap();
        s.append_answer("img1", "a", Answer::No, "bob", "s", None)
            .unwrap();
        assert!(current(&s));
        assert_eq!(stored(&s), folded(&s));
    }

    #[test]
    fn two_sessions_answering_one_file_at_once_both_keep_the_tally() {
        let (_dir, s) = tallied_project();
        let path = s.path().to_path_buf();
        // Two processes' connections (each its own Store), answering and undoing the same
        // questions at the same time.
        let workers: Vec<_> = ["bob", "peer"]
            .into_iter()
            .map(|who| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let s = Store::open(&path).unwrap();
                    for n in 0..40usize {
                        let (image, label) = (IMAGES[n % 3], LABELS[n % 2]);
                        let e = s
                            .append_answer(image, label, Answer::ALL[n % 3], who, "t", None)
                            .unwrap();
                        if n % 5 == 4 {
                            s.append_retraction(&e, "t").unwrap();
                        }
                        if n % 7 == 0 {
                            let page = [
                                (IMAGES[(n + 1) % 3].to_string(), "b".to_string(), Answer::No),
                                (
                                    IMAGES[(n + 2) % 3].to_string(),
                                    "a".to_string(),
                                    Answer::Yes,
                                ),
                            ];
                            s.append_answers(&page, who, "t", None).unwrap();
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert!(current(&s));
        assert_eq!(stored(&s), folded(&s));
        let other = Store::open(&path).unwrap();
        for w in 0..3 {
            assert_eq!(s.select_images(&filter(w)).unwrap(), by_fold(&other, w));
        }
    }
}
