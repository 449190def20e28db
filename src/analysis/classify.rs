//! The CLASSIFY task of Tsipras et al. 2020 ("From ImageNet to Image Classification"): which
//! images it asks about, and the figures its answers give.
//!
//! The queue is every image whose label set, aggregated with the same method and threshold as
//! the report, has two or more valid labels: only there is there a choice of main object. The
//! figures, over the images with at least one current classify answer:
//!
//! - the main label of an image is the plurality of its annotators' `main` answers, and the
//!   number of objects the plurality of their `objects` answers. Ties are counted and reported,
//!   and broken by one of two rules ([`ClassifyTies`]):
//!   - `first-given` (the default, the rule of Tsipras et al.): among the tied values, the one
//!     given first wins: by answer time, then (for imported answers without a time, which are
//!     dated by their line) by the order of lines in the imported file;
//!   - `original` (labelvet's earlier rule): the main label goes to the original label when it
//!     is among the tied labels (a tie is no evidence against the dataset's label), otherwise to
//!     the tied label first in vocabulary order; the number of objects to the smaller count (so
//!     that a split vote does not make an image multi-object);
//! - an image is multi-object when that number is 2 or more;
//! - the main label differs from the original label on images that have one.

use std::collections::HashMap;

use serde::Serialize;

use super::project::{Options, ProjectData, Results, Scores, aggregate};
use super::report::ClassRef;
use crate::error::Result;
use crate::store::Store;

/// A valid label of a queued image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassifyLabel {
    pub key: String,
    pub name: String,
}

/// One image of the classify queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassifyItem {
    pub image: String,
    /// The store's row id of the image.
    pub image_id: i64,
    /// Its valid labels (two or more), in vocabulary order.
    pub labels: Vec<ClassifyLabel>,
    /// Its original label's class key, when it has one.
    pub original: Option<String>,
    /// Whether the annotator has a current classify answer for it.
    pub answered: bool,
}

/// The classify queue of `annotator`, in image key order, from answers already aggregated
/// (`res`, over `data`). Costs one pass over the label sets and one indexed read of the
/// annotator's classify answers.
pub fn classify_queue(
    store: &Store,
    data: &ProjectData,
    res: &Results,
    annotator: &str,
) -> Result<Vec<ClassifyItem>> {
    let answered = store.classify_answered_images(annotator)?;
    let mut out = Vec::new();
    for (i, im) in data.images.iter().enumerate() {
        let valid = res
            .image_questions(i)
            .iter()
            .filter(|q| q.valid)
            .map(|q| q.class);
        if valid.clone().nth(1).is_none() {
            continue;
        }
        let labels = valid
            .map(|c| {
                let c = &data.classes[c as usize];
                ClassifyLabel {
                    key: c.key.clone(),
                    name: c.name.clone(),
                }
            })
            .collect();
        out.push(ClassifyItem {
            image: im.key.clone(),
            image_id: im.id,
            labels,
            original: im.original.map(|c| data.classes[c as usize].key.clone()),
            answered: answered.contains(&im.key),
        });
    }
    Ok(out)
}

/// Loads and aggregates the project as `opts` say (as `labelvet report` does), then builds the
/// annotator's classify queue. `scores` is needed only for `Method::Given`.
pub fn load_classify_queue(
    store: &Store,
    opts: &Options,
    scores: Option<&Scores>,
    annotator: &str,
) -> Result<Vec<ClassifyItem>> {
    let data = ProjectData::load(store)?;
    let res = aggregate(&data, opts, scores)?;
    classify_queue(store, &data, &res, annotator)
}

/// One annotator's current classify answer, in the dense ids of a [`ProjectData`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassifyAnswered {
    pub image: u32,
    pub annotator: String,
    /// Sorted class ids.
    pub present: Vec<u32>,
    pub main: u32,
    pub objects: u32,
    /// When it was given (ms since the epoch; an imported answer without a time: its line).
    pub given_at: i64,
}

/// How the CLASSIFY summary breaks a tie of the main label or the number of objects (see the
/// module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum ClassifyTies {
    /// Among the tied values, the one given first (Tsipras et al.).
    #[default]
    FirstGiven,
    /// To the original label, else vocabulary order; to the smaller number of objects.
    Original,
}

/// A project's current classify answers, sorted by (image, annotator).
#[derive(Clone, Debug, Default)]
pub struct ClassifyData {
    pub answers: Vec<ClassifyAnswered>,
    /// Answers naming an image or class `data` does not hold; left out.
    pub foreign_answers: u64,
}

impl ClassifyData {
    pub fn load(store: &Store, data: &ProjectData) -> Result<ClassifyData> {
        // Images by a search of the sorted keys, not a map: a map of 1.28 M keys took 50 MB at
        // the report's peak, for a table that is often empty.
        let class_of: HashMap<&str, u32> = data
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.key.as_str(), i as u32))
            .collect();
        let mut out = ClassifyData::default();
        for a in store.current_classify_answers()? {
            let image = data.image_id(&a.image);
            let main = class_of.get(a.answer.main.as_str()).copied();
            let present: Option<Vec<u32>> = a
                .answer
                .present
                .iter()
                .map(|k| class_of.get(k.as_str()).copied())
                .collect();
            let (Some(image), Some(main), Some(mut present)) = (image, main, present) else {
                out.foreign_answers += 1;
                continue;
            };
            present.sort_unstable();
            out.answers.push(ClassifyAnswered {
                image,
                annotator: a.annotator,
                present,
                main,
                objects: a.answer.objects,
                given_at: a.created_at,
            });
        }
        out.answers
            .sort_by(|a, b| (a.image, &a.annotator).cmp(&(b.image, &b.annotator)));
        Ok(out)
    }
}

/// What an image's classify answers say together (see the module docs for the rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageClassify {
    pub image: u32,
    pub answers: usize,
    pub main: u32,
    /// Two or more labels had the most `main` votes.
    pub main_tied: bool,
    pub objects: u32,
    pub objects_tied: bool,
}

/// The values of `values` (in the group's order, each with when it was given) given most
/// often, in ascending order, and the one of them given first (earliest time; at equal times,
/// the first in the group).
fn plurality(values: impl Iterator<Item = (u32, i64)>) -> (Vec<u32>, u32) {
    // value -> (count, first time, first position)
    let mut seen: HashMap<u32, (usize, i64, usize)> = HashMap::new();
    for (pos, (v, at)) in values.enumerate() {
        let e = seen.entry(v).or_insert((0, at, pos));
        e.0 += 1;
        if at < e.1 {
            (e.1, e.2) = (at, pos);
        }
    }
    let top = seen.values().map(|e| e.0).max().unwrap_or(0);
    let mut tied: Vec<(u32, (i64, usize))> = seen
        .iter()
        .filter(|(_, e)| e.0 == top)
        .map(|(&v, e)| (v, (e.1, e.2)))
        .collect();
    let first = tied.iter().min_by_key(|t| t.1).map_or(0, |t| t.0);
    tied.sort_unstable();
    (tied.into_iter().map(|t| t.0).collect(), first)
}

/// Each answered image's main label and number of objects, in image order, ties broken by
/// `ties`.
pub fn image_outcomes(
    data: &ProjectData,
    cd: &ClassifyData,
    ties: ClassifyTies,
) -> Vec<ImageClassify> {
    let mut out = Vec::new();
    for group in cd.answers.chunk_by(|a, b| a.image == b.image) {
        let image = group[0].image;
        let (mains, first_main) = plurality(group.iter().map(|a| (a.main, a.given_at)));
        let (objects, first_objects) = plurality(group.iter().map(|a| (a.objects, a.given_at)));
        let (main, n) = match ties {
            ClassifyTies::FirstGiven => (first_main, first_objects),
            ClassifyTies::Original => {
                let original = data.images[image as usize].original;
                let main = match original {
                    Some(o) if mains.contains(&o) => o,
                    _ => mains[0],
                };
                (main, objects[0])
            }
        };
        out.push(ImageClassify {
            image,
            answers: group.len(),
            main,
            main_tied: mains.len() > 1,
            objects: n,
            objects_tied: objects.len() > 1,
        });
    }
    out
}

/// How many images have a given number of objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectsCount {
    pub objects: u32,
    pub images: usize,
}

/// Images whose main label is `main` where the dataset says `original`.
#[derive(Clone, Debug, Serialize)]
pub struct MainConfusion {
    pub original: ClassRef,
    pub main: ClassRef,
    pub images: usize,
}

/// The report's CLASSIFY figures (see the module docs).
#[derive(Clone, Debug, Serialize)]
pub struct ClassifySummary {
    /// Images with at least one current classify answer; every share below is of these.
    pub images: usize,
    /// Current classify answers.
    pub answers: usize,
    pub annotators: usize,
    /// Answers naming an image or class the project does not hold; left out.
    pub foreign_answers: u64,
    /// How ties were broken: `first-given` or `original` (see [`ClassifyTies`]).
    pub tie_rule: &'static str,
    /// Images whose main label was a tie.
    pub main_ties: usize,
    /// Images whose number of objects was a tie.
    pub objects_ties: usize,
    /// Images with 2 or more objects.
    pub multi_object: usize,
    pub share_multi_object: Option<f64>,
    /// By number of objects, ascending.
    pub objects_per_image: Vec<ObjectsCount>,
    /// Answered images that have an original label.
    pub with_original: usize,
    /// Of those, images whose main label is not the original label.
    pub main_not_original: usize,
    pub share_main_not_original: Option<f64>,
    /// The most frequent (original, main) pairs among those, most images first.
    pub confusions: Vec<MainConfusion>,
}

/// How many confusions the summary keeps.
const TOP: usize = 15;

impl ClassifySummary {
    /// The figures of `cd`'s answers; `None` when there are none.
    pub fn build(
        data: &ProjectData,
        cd: &ClassifyData,
        ties: ClassifyTies,
    ) -> Option<ClassifySummary> {
        if cd.answers.is_empty() && cd.foreign_answers == 0 {
            return None;
        }
        let outcomes = image_outcomes(data, cd, ties);
        let class_ref = |c: u32| {
            let c = &data.classes[c as usize];
            ClassRef {
                key: c.key.clone(),
                name: c.name.clone(),
                index: c.index,
            }
        };
        let mut annotators: Vec<&str> = cd.answers.iter().map(|a| a.annotator.as_str()).collect();
        annotators.sort_unstable();
        annotators.dedup();
        let mut objects: HashMap<u32, usize> = HashMap::new();
        let mut confusions: HashMap<(u32, u32), usize> = HashMap::new();
        let mut s = ClassifySummary {
            images: outcomes.len(),
            answers: cd.answers.len(),
            annotators: annotators.len(),
            foreign_answers: cd.foreign_answers,
            tie_rule: ties.into(),
            main_ties: 0,
            objects_ties: 0,
            multi_object: 0,
            share_multi_object: None,
            objects_per_image: Vec::new(),
            with_original: 0,
            main_not_original: 0,
            share_main_not_original: None,
            confusions: Vec::new(),
        };
        for o in &outcomes {
            s.main_ties += usize::from(o.main_tied);
            s.objects_ties += usize::from(o.objects_tied);
            s.multi_object += usize::from(o.objects >= 2);
            *objects.entry(o.objects).or_default() += 1;
            if let Some(orig) = data.images[o.image as usize].original {
                s.with_original += 1;
                if orig != o.main {
                    s.main_not_original += 1;
                    *confusions.entry((orig, o.main)).or_default() += 1;
                }
            }
        }
        let share = |n: usize, d: usize| (d > 0).then(|| n as f64 / d as f64);
        s.share_multi_object = share(s.multi_object, s.images);
        s.share_main_not_original = share(s.main_not_original, s.with_original);
        let mut objects: Vec<ObjectsCount> = objects
            .into_iter()
            .map(|(objects, images)| ObjectsCount { objects, images })
            .collect();
        objects.sort_by_key(|o| o.objects);
        s.objects_per_image = objects;
        let key = |c: u32| data.classes[c as usize].key.as_str();
        let mut confusions: Vec<((u32, u32), usize)> = confusions.into_iter().collect();
        confusions.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then(key(a.0.0).cmp(key(b.0.0)))
                .then(key(a.0.1).cmp(key(b.0.1)))
        });
        confusions.truncate(TOP);
        s.confusions = confusions
            .into_iter()
            .map(|((o, m), images)| MainConfusion {
                original: class_ref(o),
                main: class_ref(m),
                images,
            })
            .collect();
        Some(s)
    }

    /// Reads the project's classify answers and builds the figures, ties broken first-given;
    /// `None` when it has none.
    pub fn load(store: &Store, data: &ProjectData) -> Result<Option<ClassifySummary>> {
        ClassifySummary::load_with(store, data, ClassifyTies::default())
    }

    /// [`ClassifySummary::load`] with ties broken by `ties`.
    pub fn load_with(
        store: &Store,
        data: &ProjectData,
        ties: ClassifyTies,
    ) -> Result<Option<ClassifySummary>> {
        Ok(ClassifySummary::build(
            data,
            &ClassifyData::load(store, data)?,
            ties,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::project::tiny_project;
    use super::*;

    fn answer(
        image: u32,
        annotator: &str,
        present: &[u32],
        main: u32,
        objects: u32,
    ) -> ClassifyAnswered {
        ClassifyAnswered {
            image,
            annotator: annotator.into(),
            present: present.to_vec(),
            main,
            objects,
            given_at: 0,
        }
    }

    #[test]
    fn plurality_main_and_objects_with_ties_by_hand() {
        // tiny_project: three images, all with original label c0; classes c0, c1.
        let data = tiny_project();
        let cd = ClassifyData {
            answers: vec![
                // img0: main c1 twice, c0 once -> c1 (differs from the original); objects 2,2,1 -> 2
                answer(0, "a", &[0, 1], 1, 2),
                answer(0, "b", &[0, 1], 1, 2),
                answer(0, "c", &[0, 1], 0, 1),
                // img1: c0 vs c1 tie -> the original c0; objects 1 vs 3 tie -> 1
                answer(1, "a", &[0, 1], 0, 1),
                answer(1, "b", &[1], 1, 3),
            ],
            foreign_answers: 0,
        };
        let o = image_outcomes(&data, &cd, ClassifyTies::Original);
        assert_eq!(o.len(), 2);
        assert_eq!((o[0].main, o[0].main_tied, o[0].objects), (1, false, 2));
        assert_eq!(
            (o[1].main, o[1].main_tied, o[1].objects, o[1].objects_tied),
            (0, true, 1, true)
        );
        let s = ClassifySummary::build(&data, &cd, ClassifyTies::Original).unwrap();
        assert_eq!((s.images, s.answers, s.annotators), (2, 5, 3));
        assert_eq!((s.multi_object, s.share_multi_object), (1, Some(0.5)));
        assert_eq!((s.main_ties, s.objects_ties), (1, 1));
        assert_eq!((s.with_original, s.main_not_original), (2, 1));
        assert_eq!(
            s.objects_per_image,
            vec![
                ObjectsCount {
                    objects: 1,
                    images: 1
                },
                ObjectsCount {
                    objects: 2,
                    images: 1
                }
            ]
        );
        assert_eq!(s.confusions.len(), 1);
        assert_eq!(
            (
                s.confusions[0].original.key.as_str(),
                s.confusions[0].main.key.as_str()
            ),
            ("c0", "c1")
        );

        // A tie goes to the original label when it is tied, else to the first in vocabulary
        // order.
        let mut data = data;
        data.images[1].original = Some(1);
        assert_eq!(
            image_outcomes(&data, &cd, ClassifyTies::Original)[1].main,
            1
        );
        data.images[1].original = None;
        assert_eq!(
            image_outcomes(&data, &cd, ClassifyTies::Original)[1].main,
            0
        );
        assert!(
            ClassifySummary::build(&data, &ClassifyData::default(), ClassifyTies::Original)
                .is_none()
        );
    }

    #[test]
    fn first_given_breaks_ties_by_time_then_group_order() {
        let data = tiny_project();
        let at = |mut a: ClassifyAnswered, t| {
            a.given_at = t;
            a
        };
        let cd = ClassifyData {
            answers: vec![
                // img1 (original c0): c1 was given first (t=5 before t=9), and 3 objects before 1.
                at(answer(1, "a", &[0, 1], 0, 1), 9),
                at(answer(1, "b", &[1], 1, 3), 5),
                // img2: same times: the first in the group (annotator order) wins: c1, 2.
                at(answer(2, "a", &[0, 1], 1, 2), 7),
                at(answer(2, "b", &[0, 1], 0, 1), 7),
                // img0: no tie, plurality wins whatever came first.
                at(answer(0, "a", &[0, 1], 0, 1), 1),
                at(answer(0, "b", &[0, 1], 1, 2), 2),
                at(answer(0, "c", &[0, 1], 1, 2), 3),
            ],
            foreign_answers: 0,
        };
        let mut cd = cd;
        cd.answers
            .sort_by(|a, b| (a.image, &a.annotator).cmp(&(b.image, &b.annotator)));
        let o = image_outcomes(&data, &cd, ClassifyTies::FirstGiven);
        let got: Vec<_> = o.iter().map(|o| (o.main, o.objects, o.main_tied)).collect();
        assert_eq!(got, vec![(1, 2, false), (1, 3, true), (1, 2, true)]);
        let o = image_outcomes(&data, &cd, ClassifyTies::Original);
        let got: Vec<_> = o.iter().map(|o| (o.main, o.objects)).collect();
        assert_eq!(got, vec![(1, 2), (0, 1), (0, 1)]);
        let s = ClassifySummary::build(&data, &cd, ClassifyTies::FirstGiven).unwrap();
        assert_eq!(
            (s.tie_rule, s.main_ties, s.objects_ties),
            ("first-given", 2, 2)
        );
    }
}
