//! Reading outside tables: gzip or plain, CSV or JSON lines, columns found by name. Shared by
//! every importer so that each accepts the same spellings and names the same file and line in
//! its errors.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The longest line (a CSV record, a JSON line) any reader takes, in bytes: hundreds of times
/// the longest real one (a prediction record with its top-k is a few KB), so a line past it is
/// a damaged or crafted file (a 4 MB `.gz` can hold one 4 GB line), refused before memory runs
/// out.
pub const MAX_LINE_BYTES: u64 = 64 << 20;

/// The file's bytes, gunzipped when they start with the gzip magic number, with no line longer
/// than [`MAX_LINE_BYTES`] (an I/O error of kind `InvalidData` past it, which every reader turns
/// into an error naming the file and line).
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = BufReader::with_capacity(1 << 16, file);
    let head = buf.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(LineCap::new(
            BufReader::with_capacity(1 << 16, MultiGzDecoder::new(buf)),
            MAX_LINE_BYTES,
        )))
    } else {
        Ok(Box::new(LineCap::new(buf, MAX_LINE_BYTES)))
    }
}

/// A reader that fails once a line runs past `cap` bytes: CSV and JSON-lines readers buffer a
/// whole record, so without it a line with no end (a crafted gzip stream) would grow them until
/// the allocation fails. It counts the bytes handed out since the last line break, so a line is
/// refused within one buffer (64 KiB) of the cap.
pub struct LineCap<R> {
    inner: R,
    since_newline: u64,
    cap: u64,
}

impl<R: BufRead> LineCap<R> {
    pub fn new(inner: R, cap: u64) -> Self {
        LineCap {
            inner,
            since_newline: 0,
            cap,
        }
    }
}

impl<R: BufRead> BufRead for LineCap<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.since_newline > self.cap {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a line longer than {} MiB: not a table labelvet reads (damaged, or not \
                     meant as one)",
                    self.cap >> 20
                ),
            ));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        // The bytes being consumed are still in the inner buffer: fill_buf returns them again
        // without reading.
        if let Ok(buf) = self.inner.fill_buf() {
            let part = &buf[..n.min(buf.len())];
            match part.iter().rposition(|&b| b == b'\n') {
                Some(i) => self.since_newline = (part.len() - i - 1) as u64,
                None => self.since_newline += part.len() as u64,
            }
        }
        self.inner.consume(n);
    }
}

impl<R: BufRead> Read for LineCap<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
    /// Not text: a NUL byte or invalid UTF-8 in the first block (an image, a zip, a database),
    /// which no text importer should try to read as CSV.
    Binary,
}

/// Opens a table and tells CSV from JSON lines by its first non-blank byte, and either from a
/// file that is not text at all.
pub fn open_detect(path: &Path) -> Result<(Box<dyn BufRead + Send>, Format)> {
    let mut r = open(path)?;
    let head = r.fill_buf().map_err(|e| Error::io(path, e))?;
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    let fmt = if looks_binary(head) {
        Format::Binary
    } else if first == Some(&b'{') {
        Format::Jsonl
    } else {
        Format::Csv
    };
    Ok((r, fmt))
}

/// Whether a file's first bytes are not text: a NUL byte, or bytes that are not UTF-8 (a
/// character cut at the end of the block is allowed).
fn looks_binary(head: &[u8]) -> bool {
    if head.contains(&0) {
        return true;
    }
    match std::str::from_utf8(head) {
        Ok(_) => false,
        Err(e) => e.error_len().is_some(),
    }
}

pub fn csv_reader<R: Read>(r: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(r)
}

/// The index of the first header among `names` (case-insensitive), in the order of `names`.
pub fn find_col(headers: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    names
        .iter()
        .find_map(|n| headers.iter().position(|h| h.eq_ignore_ascii_case(n)))
}

pub fn need_col(
    path: &Path,
    headers: &csv::StringRecord,
    names: &[&str],
    what: &str,
) -> Result<usize> {
    find_col(headers, names).ok_or_else(|| {
        Error::input(
            path,
            1,
            format!(
                "no {what} column in the header (expected one of: {}; found: {})",
                names.join(", "),
                headers.iter().collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// The next record, false at the end; an error names the file and the line.
fn read_record<R: Read>(
    rdr: &mut csv::Reader<R>,
    rec: &mut csv::StringRecord,
    file: &Path,
) -> Result<bool> {
    rdr.read_record(rec).map_err(|e| {
        // An I/O error (a line over the cap) has no record position: the reader's is the line
        // it was reading.
        let line = e.position().map_or(rdr.position().line(), |p| p.line());
        Error::input(file, line, e.to_string())
    })
}

/// Reads the next record that is not a blank line into `rec` and returns the line it started
/// on, or `None` at the end. A malformed record is an error naming the file and line.
pub fn next_record<R: Read>(
    rdr: &mut csv::Reader<R>,
    rec: &mut csv::StringRecord,
    file: &Path,
) -> Result<Option<u64>> {
    loop {
        if !read_record(rdr, rec, file)? {
            return Ok(None);
        }
        if !(rec.len() == 1 && rec.get(0) == Some("")) {
            check_fields(file, rec)?;
            return Ok(Some(line_of(rec)));
        }
    }
}

/// The records of a JSON-lines table, one per non-blank line, each with its line number (from 1).
/// A line that cannot be read, or does not parse as a `T`, is an error naming the file and line:
/// `not {what}: {reason}`, `what` being what a line should be ("a prediction record").
pub fn json_lines<'a, T: DeserializeOwned>(
    reader: impl BufRead + 'a,
    file: &'a Path,
    what: &'a str,
) -> impl Iterator<Item = Result<(u64, T)>> + 'a {
    reader.lines().enumerate().filter_map(move |(i, line)| {
        let n = i as u64 + 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => return Some(Err(Error::input(file, n, e.to_string()))),
        };
        if line.trim().is_empty() {
            return None;
        }
        if let Err(e) = check_json_text(file, n, &line) {
            return Some(Err(e));
        }
        Some(
            serde_json::from_str(&line)
                .map(|record| (n, record))
                .map_err(|e| Error::input(file, n, format!("not {what}: {e}"))),
        )
    })
}

/// [`json_lines`], read and parsed on a second thread while `f` takes each record here, in
/// order. Stops at `f`'s first error, and the reading thread with it. For a big file (a model's
/// predictions over a million images), decompressing and parsing cost about as much as what is
/// done with the records.
///
/// `f` borrows each record, and each batch goes back to the reading thread to be freed there.
/// A record's strings were allocated on that thread: freed on this one, each went through the
/// allocator's lock for the other thread's memory, which took about a tenth of a 10-model
/// import's reading (12.8 M records, 8 allocations each).
pub fn for_each_json_line<T: DeserializeOwned + Send>(
    reader: Box<dyn BufRead + Send>,
    file: &Path,
    what: &str,
    mut f: impl FnMut(u64, &T) -> Result<()>,
) -> Result<()> {
    const BATCH: usize = 1024;
    std::thread::scope(|scope| {
        // A few batches ahead at most: memory stays flat whatever the file's size.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<(u64, T)>>>(4);
        // Batches taken, on their way back. The reading thread takes one back for each it
        // sends, so no more than the batches in flight wait here.
        let (back, taken) = std::sync::mpsc::channel::<Vec<Result<(u64, T)>>>();
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for record in json_lines(reader, file, what) {
                batch.push(record);
                if batch.len() == BATCH {
                    let mut next = taken
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                    next.clear();
                    let full = std::mem::replace(&mut batch, next);
                    // Closed: the records taken so far had an error, and `f` stopped.
                    if tx.send(full).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send(batch);
        });
        for mut batch in rx {
            for i in 0..batch.len() {
                match &batch[i] {
                    Ok((n, record)) => f(*n, record)?,
                    Err(_) => return batch.swap_remove(i).map(|_| ()),
                }
            }
            // Gone: the reading thread has finished, and this last batch is freed here.
            let _ = back.send(batch);
        }
        Ok(())
    })
}

/// A CSV reader whose fields are left as they are, for [`for_each_csv_record`], which trims
/// them itself; the headers are trimmed, as [`csv_reader`]'s are.
pub fn csv_reader_untrimmed_fields<R: Read>(r: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(r)
}

/// One record of [`for_each_csv_record`]: its fields, trimmed.
pub struct CsvFields<'a> {
    text: &'a str,
    bounds: &'a [(u32, u32)],
}

impl<'a> CsvFields<'a> {
    pub fn get(&self, i: usize) -> Option<&'a str> {
        self.bounds
            .get(i)
            .map(|&(a, b)| &self.text[a as usize..b as usize])
    }
}

/// The rest of a CSV table from [`csv_reader_untrimmed_fields`], as [`next_record`] would give
/// it from [`csv_reader`] (fields trimmed of whitespace, blank lines skipped, every record
/// through [`check_fields`]), read and parsed on a second thread while `f` takes each record
/// here, in order, with its line. A reading error comes after the records before it, as it
/// would from [`next_record`]; `f`'s first error stops both threads.
///
/// On ReaL's 924,810 answers the reading thread's work (parsing, trimming, checking) was about
/// two thirds of the reading, and what `f` does now runs beside it. The fields are trimmed here
/// rather than by the csv crate, which allocates two new records for each line it trims; the
/// batches are reused, so that no line costs an allocation.
pub fn for_each_csv_record<R: Read + Send>(
    mut rdr: csv::Reader<R>,
    file: &Path,
    mut f: impl FnMut(u64, &CsvFields<'_>) -> Result<()>,
) -> Result<()> {
    const BATCH: usize = 1024;
    #[derive(Default)]
    struct Batch {
        text: String,
        bounds: Vec<(u32, u32)>,
        /// Per record: its line and its fields' end in `bounds`.
        records: Vec<(u64, usize)>,
        /// Where the reading stopped on an error, after the records.
        error: Option<Error>,
    }
    // A line's fields into the batch, trimmed as `csv::Trim::All` trims a `StringRecord`.
    fn read_into(
        rdr: &mut csv::Reader<impl Read>,
        rec: &mut csv::StringRecord,
        file: &Path,
        b: &mut Batch,
    ) -> Result<bool> {
        loop {
            if !read_record(rdr, rec, file)? {
                return Ok(false);
            }
            if rec.len() == 1 && rec[0].trim().is_empty() {
                continue;
            }
            let line = line_of(rec);
            let first = b.bounds.len();
            for field in rec.iter() {
                let field = field.trim();
                let at = b.text.len() as u32;
                b.text.push_str(field);
                b.bounds.push((at, b.text.len() as u32));
            }
            let fields = b.bounds[first..]
                .iter()
                .map(|&(a, z)| &b.text[a as usize..z as usize]);
            check_field_texts(file, line, fields)?;
            b.records.push((line, b.bounds.len()));
            return Ok(true);
        }
    }
    std::thread::scope(|scope| {
        // A few batches ahead at most: memory stays flat whatever the file's size.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(4);
        let (back, taken) = std::sync::mpsc::channel::<Batch>();
        scope.spawn(move || {
            let mut rec = csv::StringRecord::new();
            loop {
                let mut batch = taken.try_recv().unwrap_or_default();
                batch.text.clear();
                batch.bounds.clear();
                batch.records.clear();
                let mut end = false;
                while batch.records.len() < BATCH {
                    match read_into(&mut rdr, &mut rec, file, &mut batch) {
                        Ok(true) => {}
                        Ok(false) => end = true,
                        Err(e) => {
                            batch.error = Some(e);
                            end = true;
                        }
                    }
                    if end {
                        break;
                    }
                }
                // Refused: `f` failed and the records are no longer wanted.
                if tx.send(batch).is_err() || end {
                    return;
                }
            }
        });
        for mut batch in rx {
            let mut first = 0;
            for &(line, end) in &batch.records {
                let fields = CsvFields {
                    text: &batch.text,
                    bounds: &batch.bounds[first..end],
                };
                f(line, &fields)?;
                first = end;
            }
            if let Some(e) = batch.error.take() {
                return Err(e);
            }
            let _ = back.send(batch);
        }
        Ok(())
    })
}

/// The checks every record of an outside table passes: no field runs over a line break (a
/// quote never closed), then no field holds a
/// control character or a bidirectional override ([`crate::text::check`]): these tables hold
/// keys, names, labels and numbers, which a terminal must show as text.
pub fn check_fields(file: &Path, rec: &csv::StringRecord) -> Result<()> {
    check_field_texts(file, line_of(rec), rec.iter())
}

/// [`check_fields`] for a record's fields as strings.
fn check_field_texts<'a>(
    file: &Path,
    line: u64,
    fields: impl Iterator<Item = &'a str> + Clone,
) -> Result<()> {
    if fields.clone().any(runs_over_lines) {
        return Err(quoting_error(file, line));
    }
    for (i, field) in fields.enumerate() {
        // The field's name is made only for a refusal: a million-line file has millions of
        // fields.
        if crate::text::check_field("field", field).is_err() {
            let why = crate::text::check_field(&format!("field {}", i + 1), field)
                .expect_err("refused above");
            return Err(Error::input(file, line, why));
        }
    }
    Ok(())
}

/// The strings of one JSON line (object keys and values, at any depth) pass
/// [`crate::text::check`]. The raw line is looked at first: only a line holding an escape
/// (`\u`) or a character the check refuses is parsed a second time, to name the field.
pub fn check_json_text(file: &Path, line: u64, text: &str) -> Result<()> {
    // Printable ASCII holds no character the check refuses (they are all controls or above
    // U+007F): one pass over the bytes instead of decoding each character.
    let printable_ascii = text.bytes().all(|b| matches!(b, b' '..=b'~'));
    if !text.contains("\\u") && (printable_ascii || !text.chars().any(crate::text::is_unsafe)) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Ok(()); // the record's own parse says what is wrong
    };
    fn walk(v: &serde_json::Value, at: &str) -> std::result::Result<(), String> {
        use serde_json::Value;
        match v {
            Value::String(s) => crate::text::check_field(at, s),
            Value::Array(items) => items.iter().try_for_each(|x| walk(x, at)),
            Value::Object(map) => map.iter().try_for_each(|(k, x)| {
                crate::text::check_field("a field name", k)?;
                walk(x, &format!("field `{}`", crate::text::display(k)))
            }),
            _ => Ok(()),
        }
    }
    walk(&value, "the record").map_err(|why| Error::input(file, line, why))
}

/// A field running over a line break: in these tables (keys, labels, numbers) only a quote
/// that was never closed does that, and the CSV reader would otherwise take the rest of the
/// file as one field and report an empty label further on. Bytes, not characters: a `char`
/// pattern decodes each one.
fn runs_over_lines(field: &str) -> bool {
    field.bytes().any(|b| b == b'\n' || b == b'\r')
}

fn quoting_error(file: &Path, line: u64) -> Error {
    Error::input(
        file,
        line,
        "CSV quoting error: a quote (\") opened on this line is never closed, so the field \
         runs over the following lines; close it or remove it",
    )
}

/// The line a CSV record started on, for error messages.
pub fn line_of(rec: &csv::StringRecord) -> u64 {
    rec.position().map(|p| p.line()).unwrap_or(0)
}

/// Names used for the image column, the label column and so on, in order of preference.
pub const IMAGE_COLS: &[&str] = &["image", "key", "file", "filename", "path"];
pub const LABEL_COLS: &[&str] = &["label", "wnid", "class", "label_index", "class_index"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_skip_blank_lines_and_name_the_line_of_a_bad_one() {
        let file = Path::new("answers.jsonl");
        let text = "{\"a\": 1}\n\n   \n{\"a\": 2}\r\n{\"a\": \"x\"}\n{\"a\": 4}\n";
        let mut got = Vec::new();
        let mut err = None;
        for record in json_lines::<serde_json::Value>(text.as_bytes(), file, "a record") {
            match record {
                Ok((n, v)) if v["a"].is_u64() => got.push((n, v["a"].as_u64().unwrap())),
                Ok((n, _)) => got.push((n, 0)),
                Err(e) => err = Some(e.to_string()),
            }
        }
        assert_eq!(got, vec![(1, 1), (4, 2), (5, 0), (6, 4)]);
        assert_eq!(err, None);

        #[derive(serde::Deserialize)]
        struct A {
            #[allow(dead_code)]
            a: u64,
        }
        let results: Vec<Result<(u64, A)>> =
            json_lines(text.as_bytes(), file, "a record").collect();
        let e = results[2]
            .as_ref()
            .err()
            .expect("line 5 is no `A`")
            .to_string();
        assert!(e.starts_with("answers.jsonl:5: not a record: "), "{e}");
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
    }

    /// Every record [`next_record`] reads from `text`, and the error it stops on.
    fn by_next_record(text: &str) -> (Vec<(u64, Vec<String>)>, Option<String>) {
        let file = Path::new("t.csv");
        let mut rdr = csv_reader(text.as_bytes());
        rdr.headers().unwrap();
        let mut rec = csv::StringRecord::new();
        let mut got = Vec::new();
        loop {
            match next_record(&mut rdr, &mut rec, file) {
                Ok(Some(n)) => got.push((n, rec.iter().map(String::from).collect())),
                Ok(None) => return (got, None),
                Err(e) => return (got, Some(e.to_string())),
            }
        }
    }

    fn by_second_thread(text: &str) -> (Vec<(u64, Vec<String>)>, Option<String>) {
        let mut rdr = csv_reader_untrimmed_fields(text.as_bytes());
        rdr.headers().unwrap();
        let mut got = Vec::new();
        let out = for_each_csv_record(rdr, Path::new("t.csv"), |n, rec| {
            let fields = (0..).map_while(|i| rec.get(i)).map(String::from).collect();
            got.push((n, fields));
            Ok(())
        });
        (got, out.err().map(|e| e.to_string()))
    }

    #[test]
    fn csv_records_on_a_second_thread_are_those_next_record_reads() {
        // Whitespace of every kind around fields (a no-break space is Unicode whitespace, which
        // `csv::Trim::All` trims from string records), blank and space-only lines, quoted
        // fields, a record with fewer fields, CRLF, and enough lines to fill several batches.
        let mut text = String::from(" image ,label\t,answer\n");
        for i in 0..2500 {
            match i % 7 {
                0 => text.push_str(&format!("  a{i}.jpg , n1 ,\tyes \n")),
                1 => text.push('\n'),
                2 => text.push_str("   \r\n"),
                3 => text.push_str(&format!("\"b{i}, quoted\",\u{a0}n2\u{a0},no\r\n")),
                4 => text.push_str(&format!("c{i}.jpg\n")),
                5 => text.push_str(&format!("\" d{i} \" ,n3,  maybe\n")),
                _ => text.push_str(&format!("e{i}.jpg,n4,yes,extra, field \n")),
            }
        }
        let (want, none) = by_next_record(&text);
        assert_eq!(none, None);
        let blank = (0..2500).filter(|i| matches!(i % 7, 1 | 2)).count();
        assert_eq!(want.len(), 2500 - blank);
        assert_eq!(by_second_thread(&text), (want, None));

        // Stopped by a field with a control character, or by a quote never closed: the records
        // before it, then the same error naming the same line.
        for bad in ["x.jpg,n1,y\u{1b}es\n", "\"x.jpg,n1,yes\nz,n1,no\n"] {
            let cut = text[..4000].rfind('\n').unwrap() + 1;
            let text = format!("{}{bad}a.jpg,n1,yes\n", &text[..cut]);
            let want = by_next_record(&text);
            assert!(want.1.is_some(), "{bad:?} is refused");
            assert_eq!(by_second_thread(&text), want);
        }
    }

    #[test]
    fn an_error_of_the_callers_stops_the_csv_reading() {
        let mut text = String::from("image\n");
        for i in 0..10_000 {
            text.push_str(&format!("{i}\n"));
        }
        let mut rdr = csv_reader_untrimmed_fields(text.as_bytes());
        rdr.headers().unwrap();
        let mut seen = 0;
        let out = for_each_csv_record(rdr, Path::new("t.csv"), |n, _| {
            seen += 1;
            if n == 1500 {
                return Err(Error::input(Path::new("t.csv"), n, "stop here"));
            }
            Ok(())
        });
        assert_eq!(out.unwrap_err().to_string(), "t.csv:1500: stop here");
        assert_eq!(seen, 1499);
    }
}
