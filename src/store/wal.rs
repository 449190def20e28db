//! Checking a merge source's `-wal` before a byte of it is copied.
//!
//! A `-wal` beside an annotator's file holds the answers saved just before their labelvet was
//! killed, so a merge recovers it (in a private copy, `store::untrusted`). But the file is as
//! untrusted as the database: it may be damaged, or a sparse file of gigabytes that would be
//! copied whole to /tmp. SQLite itself reads a log only up to its last valid commit (frames with
//! the header's salts and a running checksum, ending in a commit frame), so this reads the log
//! the same way, streaming, and tells how many bytes of it SQLite would use: only those are
//! copied. A header that is not a write-ahead log's is refused.
//!
//! The format: a 32-byte header (magic 0x377f0682/3, version 3007000, page size, checkpoint
//! sequence, two salts, a checksum of the first 24 bytes), then frames of a 24-byte header (page
//! number, database size after a commit or 0, the salts, a checksum running over every frame so
//! far) and one page. <https://www.sqlite.org/fileformat2.html#walformat>

use std::io::Read;

const HEADER: usize = 32;
const FRAME_HEADER: usize = 24;

/// What a valid log holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalCheck {
    pub page_size: u32,
    /// Frames up to and including the last commit frame.
    pub committed_frames: u64,
    /// The bytes SQLite would read: the header and the committed frames.
    pub committed_bytes: u64,
    /// Bytes after them (an old log's frames, a cut frame, or padding), never copied.
    pub ignored_bytes: u64,
}

/// Reads a log from `r` (whose length is `len` bytes) and checks it as SQLite would.
/// `Err` says why the header is not a write-ahead log's.
pub fn check_wal(mut r: impl Read, len: u64) -> Result<WalCheck, String> {
    let mut h = [0u8; HEADER];
    r.read_exact(&mut h)
        .map_err(|_| format!("{len} bytes, shorter than a write-ahead log's header"))?;
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let magic = be(&h[0..4]);
    if magic & !1 != 0x377f_0682 {
        return Err("not a write-ahead log (no SQLite WAL magic number)".into());
    }
    let big_endian = magic & 1 == 1;
    if be(&h[4..8]) != 3_007_000 {
        return Err(format!(
            "write-ahead log format {} is unknown",
            be(&h[4..8])
        ));
    }
    let page_size = be(&h[8..12]);
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("page size {page_size} is not one SQLite uses"));
    }
    let salt = [be(&h[16..20]), be(&h[20..24])];
    let mut sum = checksum(&h[..24], (0, 0), big_endian);
    if sum != (be(&h[24..28]), be(&h[28..32])) {
        return Err("its header's checksum is wrong (damaged or altered)".into());
    }
    let frame_len = FRAME_HEADER + page_size as usize;
    let mut frame = vec![0u8; frame_len];
    let mut committed_frames = 0u64;
    let mut frames = 0u64;
    let mut committed_bytes = HEADER as u64;
    loop {
        // A short read is the end of the log, or a cut frame SQLite ignores too.
        if r.read_exact(&mut frame).is_err() {
            break;
        }
        let f = &frame;
        if be(&f[0..4]) == 0 || [be(&f[8..12]), be(&f[12..16])] != salt {
            break;
        }
        let s = checksum(&f[..8], sum, big_endian);
        let s = checksum(&f[FRAME_HEADER..], s, big_endian);
        if s != (be(&f[16..20]), be(&f[20..24])) {
            break;
        }
        sum = s;
        frames += 1;
        if be(&f[4..8]) != 0 {
            committed_frames = frames;
            committed_bytes = HEADER as u64 + frames * frame_len as u64;
        }
    }
    Ok(WalCheck {
        page_size,
        committed_frames,
        committed_bytes,
        ignored_bytes: len.saturating_sub(committed_bytes),
    })
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing from `(s1, s2)`.
fn checksum(data: &[u8], (mut s1, mut s2): (u32, u32), big_endian: bool) -> (u32, u32) {
    let word = |b: &[u8]| {
        let b = [b[0], b[1], b[2], b[3]];
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    for pair in data.chunks_exact(8) {
        s1 = s1.wrapping_add(word(&pair[0..4])).wrapping_add(s2);
        s2 = s2.wrapping_add(word(&pair[4..8])).wrapping_add(s1);
    }
    (s1, s2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// A real log: SQLite's own, left beside a database whose connection was never closed.
    fn real_wal(dir: &std::path::Path) -> Vec<u8> {
        let db = dir.join("x.db");
        let conn = Connection::open(&db).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        conn.execute("INSERT INTO t VALUES (3)", []).unwrap();
        let wal = std::fs::read(dir.join("x.db-wal")).unwrap();
        std::mem::forget(conn); // no checkpoint on close
        wal
    }

    #[test]
    fn a_real_log_is_read_to_its_last_commit() {
        let dir = tempfile::tempdir().unwrap();
        let wal = real_wal(dir.path());
        let c = check_wal(&wal[..], wal.len() as u64).unwrap();
        assert!(c.committed_frames >= 2, "{c:?}");
        assert_eq!(c.committed_bytes, wal.len() as u64);
        assert_eq!(c.ignored_bytes, 0);

        // Zeros after it (a sparse tail) are not frames: left out, not copied.
        let mut padded = wal.clone();
        padded.resize(wal.len() + (1 << 20), 0);
        let p = check_wal(&padded[..], padded.len() as u64).unwrap();
        assert_eq!(p.committed_bytes, wal.len() as u64);
        assert_eq!(p.ignored_bytes, 1 << 20);

        // A flipped byte in the last frame's page ends the log before that frame.
        let mut bad = wal.clone();
        let last = bad.len() - 10;
        bad[last] ^= 0xff;
        let b = check_wal(&bad[..], bad.len() as u64).unwrap();
        assert!(b.committed_bytes < wal.len() as u64);
    }

    #[test]
    fn a_header_that_is_not_a_logs_is_refused() {
        assert!(check_wal(&[0u8; 4096][..], 4096).is_err());
        assert!(check_wal(&[][..], 0).is_err());
        let dir = tempfile::tempdir().unwrap();
        let mut wal = real_wal(dir.path());
        wal[27] ^= 1; // the header's checksum
        let e = check_wal(&wal[..], wal.len() as u64).unwrap_err();
        assert!(e.contains("checksum"), "{e}");
    }
}
