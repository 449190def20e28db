//! Every answer in ImageNet-ReaL's `raters.npz` layout, so that ReaL's published code and anyone
//! who reads its raw votes with NumPy reads ours the same way:
//!
//! - `tensor`: float64, R x N x 3, a 1 where rater r answered question n no / maybe / yes;
//! - `info`: N (file name, label) pairs as a unicode array (label = class index as text, as
//!   ReaL writes it; the class key for a class without an index);
//! - `ids`: the R rater ids, int64 when every annotator is named `r<digits>` (ReaL's raters,
//!   imported from its CSV) and unicode strings otherwise.
//!
//! `.npy` and `.npz` are simple enough to write here: an `.npy` is a magic string, a Python-dict
//! header and the raw little-endian data; an `.npz` is a zip of `.npy` files. Entries are
//! deflated as `numpy.savez_compressed` does (ReaL's 85 x 184,962 x 3 tensor is 377 MB raw and
//! 2.4 MB deflated), streamed rater by rater, with zip data descriptors so nothing is held whole
//! or written twice; zip64 records past 4 GiB.

use std::io::Write;

use flate2::Crc;
use flate2::write::DeflateEncoder;

use crate::analysis::Answer;
use crate::analysis::project::ProjectData;
use crate::error::{Error, Result};

/// What `real_npz` wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NpzSummary {
    pub raters: usize,
    pub questions: usize,
    pub answers: usize,
}

fn io(e: std::io::Error) -> Error {
    Error::msg(format!("writing the npz: {e}"))
}

/// Writes every current answer of `data` as ReaL's `raters.npz`.
pub fn real_npz(data: &ProjectData, out: &mut dyn Write) -> Result<NpzSummary> {
    real_npz_with(data, out, ZIP64_ABOVE)
}

/// [`real_npz`], with entries of more than `zip64_above` bytes written as zip64 (tests use a
/// small bound to check the zip64 records without writing 4 GiB).
pub fn real_npz_with(
    data: &ProjectData,
    out: &mut dyn Write,
    zip64_above: u64,
) -> Result<NpzSummary> {
    // Questions: the (image, class) pairs with a current answer, in (image key, vocabulary) order.
    let mut questions: Vec<(u32, u32)> = Vec::new();
    let mut question_of_answer: Vec<u32> = Vec::with_capacity(data.answers.len());
    for a in &data.answers {
        if questions.last() != Some(&(a.image, a.class)) {
            questions.push((a.image, a.class));
        }
        question_of_answer.push(questions.len() as u32 - 1);
    }
    // Raters with an answer, numerically when every name is r<digits>.
    let numeric: Option<Vec<i64>> = data
        .annotators
        .iter()
        .map(|name| {
            name.strip_prefix('r')
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse::<i64>().ok())
        })
        .collect();
    let mut order: Vec<u32> = (0..data.annotators.len() as u32).collect();
    if let Some(ids) = &numeric {
        order.sort_by_key(|&a| ids[a as usize]);
    }
    let mut row_of = vec![0usize; data.annotators.len()];
    for (row, &a) in order.iter().enumerate() {
        row_of[a as usize] = row;
    }
    // Each rater's answers as (question, no/maybe/yes slot), in question order.
    let mut per_rater: Vec<Vec<(u32, u8)>> = vec![Vec::new(); order.len()];
    for (a, &q) in data.answers.iter().zip(&question_of_answer) {
        let slot = match a.answer {
            Answer::No => 0,
            Answer::Maybe => 1,
            Answer::Yes => 2,
        };
        per_rater[row_of[a.annotator as usize]].push((q, slot));
    }
    drop(question_of_answer);
    let (r, n) = (order.len(), questions.len());

    let mut zip = Zip::new(out, zip64_above);
    // tensor
    let header = npy_header("<f8", &[r, n, 3]);
    let size = header.len() as u64 + (r * n * 3 * 8) as u64;
    zip.entry("tensor.npy", size, |w| {
        w.write_all(&header)?;
        const CHUNK: usize = 32 * 1024;
        let mut buf = vec![0u8; CHUNK * 3 * 8];
        let one = 1.0f64.to_le_bytes();
        for answers in &per_rater {
            let mut next = answers.iter().peekable();
            let mut start = 0;
            while start < n {
                let end = (start + CHUNK).min(n);
                let part = &mut buf[..(end - start) * 24];
                part.fill(0);
                while let Some(&&(q, slot)) = next.peek() {
                    if q as usize >= end {
                        break;
                    }
                    let at = (q as usize - start) * 24 + slot as usize * 8;
                    part[at..at + 8].copy_from_slice(&one);
                    next.next();
                }
                w.write_all(part)?;
                start = end;
            }
        }
        Ok(())
    })?;
    // info
    let labels: Vec<String> = data
        .classes
        .iter()
        .map(|c| {
            c.index
                .map(|i| i.to_string())
                .unwrap_or_else(|| c.key.clone())
        })
        .collect();
    let width = questions
        .iter()
        .map(|&(i, c)| {
            (data.images[i as usize].key.chars().count()).max(labels[c as usize].chars().count())
        })
        .max()
        .unwrap_or(0)
        .max(1);
    let header = npy_header(&format!("<U{width}"), &[n, 2]);
    let size = header.len() as u64 + (n * 2 * width * 4) as u64;
    zip.entry("info.npy", size, |w| {
        w.write_all(&header)?;
        let mut cell = Vec::with_capacity(width * 4);
        for &(i, c) in &questions {
            for text in [data.images[i as usize].key.as_str(), &labels[c as usize]] {
                utf32(text, width, &mut cell);
                w.write_all(&cell)?;
            }
        }
        Ok(())
    })?;
    // ids
    match &numeric {
        Some(ids) => {
            let header = npy_header("<i8", &[r]);
            let size = header.len() as u64 + (r * 8) as u64;
            zip.entry("ids.npy", size, |w| {
                w.write_all(&header)?;
                for &a in &order {
                    w.write_all(&ids[a as usize].to_le_bytes())?;
                }
                Ok(())
            })?;
        }
        None => {
            let width = data
                .annotators
                .iter()
                .map(|a| a.chars().count())
                .max()
                .unwrap_or(0)
                .max(1);
            let header = npy_header(&format!("<U{width}"), &[r]);
            let size = header.len() as u64 + (r * width * 4) as u64;
            zip.entry("ids.npy", size, |w| {
                w.write_all(&header)?;
                let mut cell = Vec::new();
                for &a in &order {
                    utf32(&data.annotators[a as usize], width, &mut cell);
                    w.write_all(&cell)?;
                }
                Ok(())
            })?;
        }
    }
    zip.finish()?;
    Ok(NpzSummary {
        raters: r,
        questions: n,
        answers: data.answers.len(),
    })
}

/// `text` as NumPy's `<U{width}`: UTF-32 little-endian, zero-padded.
fn utf32(text: &str, width: usize, out: &mut Vec<u8>) {
    out.clear();
    for ch in text.chars().take(width) {
        out.extend_from_slice(&(ch as u32).to_le_bytes());
    }
    out.resize(width * 4, 0);
}

/// An `.npy` header (format 1.0): magic, version, header length, and the dict describing the
/// array, space-padded so that the data starts on a 64-byte boundary, as NumPy writes it.
pub fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape = match shape {
        [one] => format!("({one},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut h = b"\x93NUMPY\x01\x00".to_vec();
    h.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h
}

/// Entries larger than this go out as zip64.
const ZIP64_ABOVE: u64 = 0xFFFF_0000;
const MAX32: u64 = 0xFFFF_FFFF;

struct CentralEntry {
    name: String,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    offset: u64,
    zip64: bool,
}

/// A zip written front to back: each entry's local header carries no sizes (flag bit 3), a data
/// descriptor after the data does, and the central directory at the end repeats them.
struct Zip<'a> {
    out: &'a mut dyn Write,
    offset: u64,
    entries: Vec<CentralEntry>,
    zip64_above: u64,
}

/// Counts the bytes that pass through, for the compressed size and the offsets.
struct Counter<'a> {
    out: &'a mut dyn Write,
    n: u64,
}

impl Write for Counter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.out.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Deflates what is written, keeping the CRC-32 and length of the uncompressed bytes.
struct Deflate<'a> {
    crc: Crc,
    inner: DeflateEncoder<Counter<'a>>,
}

impl Write for Deflate<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.crc.update(&buf[..k]);
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<'a> Zip<'a> {
    fn new(out: &'a mut dyn Write, zip64_above: u64) -> Self {
        Zip {
            out,
            offset: 0,
            entries: Vec::new(),
            zip64_above,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(io)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// One deflated entry of `size` uncompressed bytes, written by `f`.
    fn entry(
        &mut self,
        name: &str,
        size: u64,
        f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        let zip64 = size > self.zip64_above || self.offset > self.zip64_above;
        let offset = self.offset;
        let mut h = Vec::with_capacity(64);
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
        h.extend_from_slice(&(1u16 << 3).to_le_bytes()); // sizes in the data descriptor
        h.extend_from_slice(&8u16.to_le_bytes()); // deflate
        h.extend_from_slice(&0u16.to_le_bytes()); // time 00:00
        h.extend_from_slice(&0x0021u16.to_le_bytes()); // date 1980-01-01: reproducible files
        h.extend_from_slice(&0u32.to_le_bytes()); // crc, in the descriptor
        let unknown = if zip64 { MAX32 as u32 } else { 0 };
        h.extend_from_slice(&unknown.to_le_bytes());
        h.extend_from_slice(&unknown.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        if zip64 {
            h.extend_from_slice(&1u16.to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(&[0u8; 16]);
        }
        self.put(&h)?;
        let (crc, uncompressed, compressed) = {
            let mut d = Deflate {
                crc: Crc::new(),
                inner: DeflateEncoder::new(
                    Counter {
                        out: &mut *self.out,
                        n: 0,
                    },
                    flate2::Compression::fast(),
                ),
            };
            f(&mut d).map_err(io)?;
            let Deflate { crc, inner } = d;
            (
                crc.sum(),
                crc.amount() as u64,
                inner.finish().map_err(io)?.n,
            )
        };
        self.offset += compressed;
        if uncompressed != size {
            return Err(Error::msg(format!(
                "writing the npz: {name} came to {uncompressed} bytes, not the {size} announced"
            )));
        }
        let mut dd = Vec::with_capacity(24);
        dd.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
        dd.extend_from_slice(&crc.to_le_bytes());
        if zip64 {
            dd.extend_from_slice(&compressed.to_le_bytes());
            dd.extend_from_slice(&uncompressed.to_le_bytes());
        } else {
            dd.extend_from_slice(&(compressed as u32).to_le_bytes());
            dd.extend_from_slice(&(uncompressed as u32).to_le_bytes());
        }
        self.put(&dd)?;
        self.entries.push(CentralEntry {
            name: name.to_string(),
            crc,
            compressed,
            uncompressed,
            offset,
            zip64,
        });
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        let start = self.offset;
        let entries = std::mem::take(&mut self.entries);
        for e in &entries {
            let mut h = Vec::with_capacity(80);
            h.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            let version = if e.zip64 { 45u16 } else { 20 };
            h.extend_from_slice(&version.to_le_bytes()); // made by
            h.extend_from_slice(&version.to_le_bytes()); // needed
            h.extend_from_slice(&(1u16 << 3).to_le_bytes());
            h.extend_from_slice(&8u16.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&0x0021u16.to_le_bytes());
            h.extend_from_slice(&e.crc.to_le_bytes());
            let clip = |x: u64| if e.zip64 { MAX32 as u32 } else { x as u32 };
            h.extend_from_slice(&clip(e.compressed).to_le_bytes());
            h.extend_from_slice(&clip(e.uncompressed).to_le_bytes());
            h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            h.extend_from_slice(&(if e.zip64 { 28u16 } else { 0 }).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // comment
            h.extend_from_slice(&0u16.to_le_bytes()); // disk
            h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
            h.extend_from_slice(&clip(e.offset).to_le_bytes());
            h.extend_from_slice(e.name.as_bytes());
            if e.zip64 {
                h.extend_from_slice(&1u16.to_le_bytes());
                h.extend_from_slice(&24u16.to_le_bytes());
                h.extend_from_slice(&e.uncompressed.to_le_bytes());
                h.extend_from_slice(&e.compressed.to_le_bytes());
                h.extend_from_slice(&e.offset.to_le_bytes());
            }
            self.put(&h)?;
        }
        let size = self.offset - start;
        let count = entries.len() as u64;
        let zip64 = entries.iter().any(|e| e.zip64) || start > MAX32 || size > MAX32;
        if zip64 {
            let end = self.offset;
            let mut z = Vec::with_capacity(76);
            z.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
            z.extend_from_slice(&44u64.to_le_bytes());
            z.extend_from_slice(&45u16.to_le_bytes());
            z.extend_from_slice(&45u16.to_le_bytes());
            z.extend_from_slice(&0u32.to_le_bytes());
            z.extend_from_slice(&0u32.to_le_bytes());
            z.extend_from_slice(&count.to_le_bytes());
            z.extend_from_slice(&count.to_le_bytes());
            z.extend_from_slice(&size.to_le_bytes());
            z.extend_from_slice(&start.to_le_bytes());
            z.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
            z.extend_from_slice(&0u32.to_le_bytes());
            z.extend_from_slice(&end.to_le_bytes());
            z.extend_from_slice(&1u32.to_le_bytes());
            self.put(&z)?;
        }
        let mut z = Vec::with_capacity(22);
        z.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(&(count as u16).to_le_bytes());
        z.extend_from_slice(&(count as u16).to_le_bytes());
        let clip = |x: u64| if zip64 { MAX32 as u32 } else { x as u32 };
        z.extend_from_slice(&clip(size).to_le_bytes());
        z.extend_from_slice(&clip(start).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        self.put(&z)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_headers_pad_the_data_to_64_bytes_as_numpy_does() {
        let h = npy_header("<f8", &[85, 184962, 3]);
        assert_eq!(h.len() % 64, 0);
        assert!(h.starts_with(b"\x93NUMPY\x01\x00"));
        let text = std::str::from_utf8(&h[10..]).unwrap();
        assert!(
            text.starts_with(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (85, 184962, 3), }"
            )
        );
        assert!(text.ends_with(" \n"));
        let one = npy_header("<i8", &[85]);
        assert!(
            std::str::from_utf8(&one[10..])
                .unwrap()
                .contains("'shape': (85,), ")
        );
    }

    #[test]
    fn utf32_cells_are_zero_padded_code_points() {
        let mut cell = Vec::new();
        utf32("aé", 3, &mut cell);
        assert_eq!(cell, [97, 0, 0, 0, 0xe9, 0, 0, 0, 0, 0, 0, 0]);
    }
}
