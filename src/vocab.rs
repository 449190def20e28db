//! The class vocabulary: what a label *means*.
//!
//! A class is identified by its key (a WordNet id for ImageNet, any stable string for a custom
//! vocabulary), never by a row id, so that files made on different machines agree. Annotators
//! need more than the key to answer well, so each class carries its display name, synonyms,
//! definition, place in the hierarchy and an optional guideline. The hierarchy also answers
//! spot-check queries such as "every class under terrier".

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::suggest::{did_you_mean, nearest};

/// The ImageNet-1k vocabulary (WordNet 3.0 glosses and hypernym paths), bundled in the binary.
const IMAGENET1K_TSV: &str = include_str!("../assets/vocab/imagenet1k.tsv");
pub const IMAGENET1K: &str = "imagenet1k";

/// Separator of hierarchy paths, in files and on screen.
pub const PATH_SEP: &str = " > ";
/// The most levels a path built from parent links holds, far beyond WordNet's (about 20).
pub const MAX_PATH_DEPTH: usize = 256;

#[derive(Clone, Debug, PartialEq)]
pub struct Class {
    pub key: String,
    /// Position in the model output / ReaL index space, when the vocabulary has one.
    pub index: Option<u32>,
    pub name: String,
    pub synonyms: Vec<String>,
    pub definition: String,
    pub parent: Option<String>,
    /// Names from the root down to this class (inclusive).
    pub path: Vec<String>,
    pub guideline: String,
}

/// The largest vocabulary file read, in bytes.
pub const MAX_VOCAB_BYTES: u64 = 256 << 20;

impl Class {
    /// The last `n` steps of the path, e.g. `dog > hunting dog > terrier > Norfolk terrier`.
    pub fn short_path(&self, n: usize) -> String {
        let start = self.path.len().saturating_sub(n);
        self.path[start..].join(PATH_SEP)
    }
}

#[derive(Clone, Debug)]
pub struct Vocab {
    pub name: String,
    classes: Vec<Class>,
    by_key: HashMap<String, usize>,
    by_index: HashMap<u32, usize>,
}

impl Vocab {
    /// The bundled ImageNet-1k vocabulary.
    pub fn imagenet1k() -> Vocab {
        Self::from_reader(
            IMAGENET1K,
            Path::new("assets/vocab/imagenet1k.tsv"),
            IMAGENET1K_TSV.as_bytes(),
        )
        .expect("the bundled vocabulary is valid")
    }

    /// `imagenet1k` or a path to a TSV/CSV vocabulary file.
    ///
    /// The file is read whole: see [`MAX_VOCAB_BYTES`].
    pub fn load(spec: &str) -> Result<Vocab> {
        if spec == IMAGENET1K {
            return Ok(Self::imagenet1k());
        }
        let path = Path::new(spec);
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        // Read whole below, so no more than any vocabulary needs (ImageNet-21k's is a few MB):
        // /dev/zero or a runaway pipe cannot fill the memory.
        let md = file.metadata().map_err(|e| Error::io(path, e))?;
        if md.len() > MAX_VOCAB_BYTES {
            return Err(Error::msg(format!(
                "{}: {} MiB, over the {} MiB a vocabulary file may have",
                path.display(),
                md.len() >> 20,
                MAX_VOCAB_BYTES >> 20
            )));
        }
        let file = std::io::Read::take(file, MAX_VOCAB_BYTES);
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| spec.to_string());
        Self::from_reader(&name, path, file)
    }

    /// Reads a vocabulary table with a header row. Columns are found by name, so their order is
    /// free: `key` (or `wnid`/`id`) and `name` (or `names`, comma-separated, the first being the
    /// display name) are required; `index`, `synonyms`, `definition` (or `gloss`), `parent`,
    /// `path` (or `wordnet_path`) and `guideline` are optional. Tab-separated when the header
    /// holds a tab, comma-separated otherwise.
    pub fn from_reader(name: &str, file: &Path, mut reader: impl Read) -> Result<Vocab> {
        let mut text = String::new();
        reader
            .read_to_string(&mut text)
            .map_err(|e| Error::io(file, e))?;
        let header = text.lines().next().unwrap_or_default();
        let delimiter = if header.contains('\t') { b'\t' } else { b',' };
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .quoting(delimiter == b',')
            .flexible(false)
            .from_reader(text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| Error::input(file, 1, e.to_string()))?
            .clone();
        let col = |names: &[&str]| {
            headers
                .iter()
                .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
        };
        let key_col = col(&["key", "wnid", "id"])
            .ok_or_else(|| Error::input(file, 1, "no `key` column in the header"))?;
        let name_col = col(&["name"]);
        let names_col = col(&["names"]);
        if name_col.is_none() && names_col.is_none() {
            return Err(Error::input(file, 1, "no `name` column in the header"));
        }
        let index_col = col(&["index", "label_index", "class_index"]);
        let syn_col = col(&["synonyms"]);
        let def_col = col(&["definition", "gloss"]);
        let parent_col = col(&["parent"]);
        let path_col = col(&["path", "wordnet_path"]);
        let guide_col = col(&["guideline", "guidelines"]);

        let mut classes = Vec::new();
        for (row, rec) in rdr.records().enumerate() {
            let line = row as u64 + 2;
            let rec = rec.map_err(|e| Error::input(file, line, e.to_string()))?;
            // Names, definitions and guidelines are drawn on the question screen: no control
            // character (a tab only in the free text) and no bidirectional override.
            for (i, field) in rec.iter().enumerate() {
                let free_text = Some(i) == def_col || Some(i) == guide_col;
                crate::text::check(field, free_text).map_err(|u| {
                    let column = headers.get(i).unwrap_or("?").trim();
                    Error::input(
                        file,
                        line,
                        format!(
                            "column `{column}` \"{}\" {u}",
                            crate::text::display(&crate::text::clip(field, 80))
                        ),
                    )
                })?;
            }
            let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("").trim();
            let key = get(Some(key_col)).to_string();
            if key.is_empty() {
                return Err(Error::input(file, line, "empty class key"));
            }
            let mut all_names: Vec<String> = split_list(get(names_col));
            let display = match get(name_col) {
                "" => {
                    if all_names.is_empty() {
                        return Err(Error::input(file, line, format!("class {key} has no name")));
                    }
                    all_names.remove(0)
                }
                n => n.to_string(),
            };
            let mut synonyms = all_names;
            for s in split_list(get(syn_col)) {
                if s != display && !synonyms.contains(&s) {
                    synonyms.push(s);
                }
            }
            synonyms.retain(|s| *s != display);
            let index = match get(index_col) {
                "" => {
                    if index_col.is_some() {
                        None
                    } else {
                        Some(row as u32)
                    }
                }
                s => Some(s.parse::<u32>().map_err(|_| {
                    Error::input(file, line, format!("index `{s}` is not a whole number"))
                })?),
            };
            let path: Vec<String> = get(path_col)
                .split('>')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            let parent = Some(get(parent_col).to_string()).filter(|p| !p.is_empty());
            classes.push(Class {
                key,
                index,
                name: display,
                synonyms,
                definition: get(def_col).to_string(),
                parent,
                path,
                guideline: get(guide_col).to_string(),
            });
        }
        if classes.is_empty() {
            return Err(Error::input(file, 1, "the vocabulary has no classes"));
        }
        let vocab = Self::from_classes(name, classes).map_err(|e| match e {
            Error::Msg(m) => Error::input(file, 1, m),
            e => e,
        })?;
        Ok(vocab)
    }

    /// Builds the lookup maps and fills in paths from `parent` links where no path was given.
    pub fn from_classes(name: &str, mut classes: Vec<Class>) -> Result<Vocab> {
        let mut by_key = HashMap::with_capacity(classes.len());
        let mut by_index = HashMap::with_capacity(classes.len());
        for (i, c) in classes.iter().enumerate() {
            if by_key.insert(c.key.clone(), i).is_some() {
                return Err(Error::msg(format!("class key {} appears twice", c.key)));
            }
            if let Some(ix) = c.index
                && by_index.insert(ix, i).is_some()
            {
                return Err(Error::msg(format!("class index {ix} appears twice")));
            }
        }
        // One name spelled two ways (NFC and NFD: `é` as one character or as `e` and an accent)
        // looks the same on screen but would be two classes. The same spelling twice is ImageNet's
        // own (two "crane"s, a bird and a machine) and stays.
        let mut by_nfc: HashMap<String, &Class> = HashMap::with_capacity(classes.len());
        for c in &classes {
            let key = crate::text::nfc(&c.name).into_owned();
            if let Some(other) = by_nfc.insert(key, c)
                && other.name != c.name
            {
                return Err(Error::msg(format!(
                    "classes {} and {} are both named \"{}\", spelled in two Unicode forms \
                     (\"{}\" and \"{}\"); write both in one form (NFC)",
                    other.key,
                    c.key,
                    c.name,
                    crate::text::reveal(&other.name),
                    crate::text::reveal(&c.name)
                )));
            }
        }
        // Paths from parent links: walk up, naming known classes by their display name and
        // unknown internal nodes by their key. A cycle stops the walk rather than looping, and so
        // does the depth cap: a hostile file chaining thousands of classes would otherwise cost
        // time and memory growing with the square of its length (a path per class).
        let parents: Vec<Option<String>> = classes.iter().map(|c| c.parent.clone()).collect();
        for i in 0..classes.len() {
            if !classes[i].path.is_empty() {
                continue;
            }
            let mut path = vec![classes[i].name.clone()];
            let mut seen = HashSet::from([classes[i].key.clone()]);
            let mut next = parents[i].clone();
            while let Some(p) = next {
                if path.len() >= MAX_PATH_DEPTH || !seen.insert(p.clone()) {
                    break;
                }
                match by_key.get(&p) {
                    Some(&j) => {
                        path.push(classes[j].name.clone());
                        next = parents[j].clone();
                    }
                    None => {
                        path.push(p);
                        next = None;
                    }
                }
            }
            path.reverse();
            classes[i].path = path;
        }
        Ok(Vocab {
            name: name.to_string(),
            classes,
            by_key,
            by_index,
        })
    }

    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    pub fn classes(&self) -> &[Class] {
        &self.classes
    }

    pub fn get(&self, key: &str) -> Option<&Class> {
        self.by_key.get(key).map(|&i| &self.classes[i])
    }

    pub fn by_index(&self, index: u32) -> Option<&Class> {
        self.by_index.get(&index).map(|&i| &self.classes[i])
    }

    /// A label as files write it: a class key, or else a class index.
    pub fn resolve(&self, label: &str) -> Option<&Class> {
        let label = label.trim();
        self.get(label)
            .or_else(|| label.parse::<u32>().ok().and_then(|ix| self.by_index(ix)))
    }

    /// A class named by a person: key, index, display name or synonym (case-insensitive).
    /// Several classes share a name in ImageNet (two `crane`s), so a name that matches more
    /// than one class is an error listing them with their keys and paths; an unknown name is an
    /// error suggesting the nearest names and keys. Every flag that names a class (`--class`,
    /// `--label`, `--original-label`) resolves through here.
    pub fn lookup(&self, query: &str) -> Result<&Class> {
        if let Some(c) = self.resolve(query) {
            return Ok(c);
        }
        let q = query.trim();
        let hits: Vec<&Class> = self
            .classes
            .iter()
            .filter(|c| c.name.eq_ignore_ascii_case(q))
            .collect();
        let hits = if hits.is_empty() {
            self.classes
                .iter()
                .filter(|c| c.synonyms.iter().any(|s| s.eq_ignore_ascii_case(q)))
                .collect()
        } else {
            hits
        };
        match hits.as_slice() {
            [c] => Ok(c),
            [] => Err(Error::msg(format!(
                "no class named `{q}` in the vocabulary{}",
                did_you_mean(&self.suggest_classes(q))
            ))),
            many => Err(Error::msg(format!(
                "`{q}` names {} classes: {}; use a key",
                many.len(),
                many.iter()
                    .map(|c| describe(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The classes whose key, name or synonym is nearest to `query`, as `name (key, path)`.
    pub fn suggest_classes(&self, query: &str) -> Vec<String> {
        let mut spellings: Vec<(&str, &Class)> = Vec::new();
        for c in &self.classes {
            spellings.push((&c.key, c));
            spellings.push((&c.name, c));
            for s in &c.synonyms {
                spellings.push((s, c));
            }
        }
        let mut out: Vec<String> = Vec::new();
        for hit in nearest(query, spellings.iter().map(|(s, _)| *s), 12) {
            let (_, c) = spellings
                .iter()
                .find(|(s, _)| *s == hit)
                .expect("a spelling");
            let d = format!("{} ({})", c.name, describe(c));
            if !out.contains(&d) {
                out.push(d);
            }
            if out.len() == 3 {
                break;
            }
        }
        out
    }

    /// Every class under a hierarchy node, the node itself included when it is a class. The node
    /// is a class key, a parent key, or a name on the path (`terrier`, `dog`), compared without
    /// regard to case; a path tail (`wading bird > crane`) tells apart nodes that share a name.
    /// A name naming two nodes (the bird and the machine both called `crane`) is an error listing
    /// them, and an unknown node is an error with suggestions, so that a typo does not give an
    /// empty queue and an ambiguous name does not join two subtrees.
    pub fn subtree(&self, node: &str) -> Result<Vec<&Class>> {
        let node = node.trim();
        let under_key = |c: &Class| {
            if c.key == node {
                return true;
            }
            let mut next = c.parent.as_deref();
            let mut steps = 0;
            while let Some(p) = next {
                if p == node {
                    return true;
                }
                steps += 1;
                if steps > self.classes.len() {
                    break;
                }
                next = self.get(p).and_then(|pc| pc.parent.as_deref());
            }
            false
        };
        let by_key: Vec<&Class> = self.classes.iter().filter(|c| under_key(c)).collect();
        if !by_key.is_empty() {
            return Ok(by_key);
        }
        // By name: each match is a node, told apart by the path leading to it.
        let parts: Vec<&str> = node.split('>').map(str::trim).collect();
        let ends_at = |c: &Class, end: usize| {
            end + 1 >= parts.len()
                && parts
                    .iter()
                    .rev()
                    .zip(c.path[..=end].iter().rev())
                    .all(|(a, b)| b.eq_ignore_ascii_case(a))
        };
        let mut nodes: Vec<(Vec<String>, Vec<&Class>)> = Vec::new();
        for c in &self.classes {
            let Some(end) = (0..c.path.len()).find(|&end| ends_at(c, end)) else {
                continue;
            };
            let prefix = &c.path[..=end];
            match nodes.iter_mut().find(|(p, _)| p.as_slice() == prefix) {
                Some((_, members)) => members.push(c),
                None => nodes.push((prefix.to_vec(), vec![c])),
            }
        }
        match nodes.len() {
            0 => {
                let mut names: Vec<&str> = self
                    .classes
                    .iter()
                    .flat_map(|c| c.path.iter().map(String::as_str))
                    .collect();
                names.sort_unstable();
                names.dedup();
                let near: Vec<String> = nearest(node, names, 3)
                    .into_iter()
                    .map(|n| format!("`{n}`"))
                    .collect();
                Err(Error::msg(format!(
                    "no class is under `{node}` in the vocabulary's hierarchy{}",
                    did_you_mean(&near)
                )))
            }
            1 => Ok(nodes.pop().expect("one node").1),
            _ => {
                let listed: Vec<String> = nodes
                    .iter()
                    .map(|(prefix, members)| {
                        // A node that is itself a class is the member whose path ends there.
                        match members.iter().find(|c| c.path.len() == prefix.len()) {
                            Some(c) => describe(c),
                            None => format!(
                                "{} ({} class{})",
                                tail(prefix, 4),
                                members.len(),
                                if members.len() == 1 { "" } else { "es" }
                            ),
                        }
                    })
                    .collect();
                let example = tail(&nodes[0].0, 2);
                Err(Error::msg(format!(
                    "`{node}` names {} nodes of the hierarchy: {}; use a key or a path such as \
                     `{example}`",
                    nodes.len(),
                    listed.join(", ")
                )))
            }
        }
    }

    /// A digest of everything that gives the classes meaning, so two project files can tell
    /// whether they speak the same vocabulary.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        // Sorted by key: the digest speaks of the classes, not of the order a file listed them in.
        let mut sorted: Vec<&Class> = self.classes.iter().collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        for c in sorted {
            for field in [
                c.key.as_str(),
                &c.index.map(|i| i.to_string()).unwrap_or_default(),
                &c.name,
                &c.synonyms.join(", "),
                &c.definition,
                c.parent.as_deref().unwrap_or(""),
                &c.path.join(PATH_SEP),
                &c.guideline,
            ] {
                h.update(field.as_bytes());
                h.update([0u8]);
            }
            h.update([b'\n']);
        }
        hex::encode(h.finalize())
    }
}

/// A class as messages list it: `n02012849 (wading bird > crane)`, key and the end of its path.
pub fn describe(c: &Class) -> String {
    format!("{} ({})", c.key, c.short_path(4))
}

/// The last `n` names of a path, joined.
fn tail(path: &[String], n: usize) -> String {
    path[path.len().saturating_sub(n)..].join(PATH_SEP)
}

fn split_list(s: &str) -> Vec<String> {
    let sep: &[char] = if s.contains(';') || s.contains('|') {
        &[';', '|']
    } else {
        &[',']
    };
    s.split(sep)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagenet_has_1000_classes_with_paths() {
        let v = Vocab::imagenet1k();
        assert_eq!(v.len(), 1000);
        let c = v.get("n02094114").unwrap();
        assert_eq!(c.name, "Norfolk terrier");
        assert_eq!(c.index, Some(185));
        assert_eq!(
            c.short_path(4),
            "dog > hunting dog > terrier > Norfolk terrier"
        );
        assert_eq!(v.resolve("185").unwrap().key, "n02094114");
        assert_eq!(v.by_index(0).unwrap().name, "tench");
        assert_eq!(v.get("n01440764").unwrap().synonyms, vec!["Tinca tinca"]);
    }

    #[test]
    fn subtree_of_terrier_and_dog() {
        let v = Vocab::imagenet1k();
        let terriers = v.subtree("terrier").unwrap();
        assert!(terriers.iter().any(|c| c.name == "Norfolk terrier"));
        assert!(
            terriers
                .iter()
                .all(|c| c.path.iter().any(|p| p == "terrier"))
        );
        assert!(!terriers.iter().any(|c| c.name == "Chihuahua"));
        let dogs = v.subtree("dog").unwrap();
        assert!(dogs.len() > terriers.len());
        assert!(dogs.iter().any(|c| c.name == "Chihuahua"));
        assert!(v.subtree("no such node").is_err());
    }

    #[test]
    fn ambiguous_names_are_refused() {
        let v = Vocab::imagenet1k();
        let err = v.lookup("crane").unwrap_err().to_string();
        assert!(err.contains("2 classes"), "{err}");
        assert_eq!(v.lookup("norfolk terrier").unwrap().key, "n02094114");
    }

    #[test]
    fn custom_csv_with_parents() {
        let text = "key,name,synonyms,definition,parent,guideline\n\
                    animal,animal,,,,\n\
                    dog,dog,doggo;hound,a dog,animal,\n\
                    corgi,corgi,,short legs,dog,look at the legs\n";
        let v = Vocab::from_reader("pets", Path::new("pets.csv"), text.as_bytes()).unwrap();
        let corgi = v.get("corgi").unwrap();
        assert_eq!(corgi.path, vec!["animal", "dog", "corgi"]);
        assert_eq!(corgi.guideline, "look at the legs");
        assert_eq!(corgi.index, Some(2));
        assert_eq!(v.get("dog").unwrap().synonyms, vec!["doggo", "hound"]);
        let under: Vec<_> = v.subtree("dog").unwrap().iter().map(|c| &c.key).collect();
        assert_eq!(under, vec!["dog", "corgi"]);
    }

    #[test]
    fn bad_vocab_names_line() {
        let text = "key,name\na,A\na,B\n";
        let err = Vocab::from_reader("x", Path::new("x.csv"), text.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
        let err = Vocab::from_reader("x", Path::new("x.csv"), "name\nA\n".as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "x.csv:1: no `key` column in the header");
        let err =
            Vocab::from_reader("x", Path::new("x.csv"), "key,name\n,A\n".as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "x.csv:2: empty class key");
    }

    #[test]
    fn digest_changes_with_content() {
        let a = Vocab::from_reader("x", Path::new("x"), "key,name\na,A\n".as_bytes()).unwrap();
        let b = Vocab::from_reader("x", Path::new("x"), "key,name\na,B\n".as_bytes()).unwrap();
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest(), a.clone().digest());
    }
}
