//! A range of a file's bytes read as regions of whole lines: the unit that is decoded at
//! once, and read again record by record when it holds a malformed one.
//!
//! A range's records are those that start in it: its first is the one after the first line
//! break at or past its start (the one under way belongs to the range before), its last the
//! one that holds its last byte. Like DataFusion's own CSV reading, this assumes no line
//! breaks inside quoted values.

use super::scan::Range;
use datafusion::common::exec_datafusion_err;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Bytes read from the file at a time: a region is about this long (longer when one line
/// is).
const REGION_BYTES: usize = 4 << 20;

/// Calls `each` with the regions of whole lines that start in `range`, in order, the header
/// line left out when the range starts the file and `header` is set. Stops early, returning
/// false, when `each` returns false.
pub(super) fn for_each_region(
    range: &Range,
    header: bool,
    each: &mut impl FnMut(&[u8]) -> datafusion::error::Result<bool>,
) -> datafusion::error::Result<bool> {
    let io_error =
        |e: std::io::Error| exec_datafusion_err!("could not read {}: {e}", range.path.display());
    let mut file = File::open(range.path.as_ref()).map_err(io_error)?;
    // `at`: the file offset of `buffer[0]`.
    let mut at = range.start.saturating_sub(1);
    file.seek(SeekFrom::Start(at)).map_err(io_error)?;
    let mut buffer: Vec<u8> = Vec::with_capacity(REGION_BYTES + (64 << 10));
    // Whether the bytes before the first line of the range are still to be dropped: the
    // rest of the line under way at `start - 1`, or the header.
    let mut skip_first_line = range.start > 0 || header;
    let mut ended = false;
    loop {
        if !ended {
            let old = buffer.len();
            buffer.resize(old + REGION_BYTES, 0);
            let read = read_full(&mut file, &mut buffer[old..]).map_err(io_error)?;
            buffer.truncate(old + read);
            ended = read < REGION_BYTES;
        }
        if skip_first_line {
            match buffer.iter().position(|&b| b == b'\n') {
                Some(newline) => {
                    buffer.drain(..=newline);
                    at += newline as u64 + 1;
                    skip_first_line = false;
                }
                // The first line goes on past what was read (or is all there is).
                None if ended => return Ok(true),
                None => {
                    at += buffer.len() as u64;
                    buffer.clear();
                    continue;
                }
            }
        }
        if at >= range.end {
            return Ok(true);
        }
        // The lines that start before the range's end; the line that holds byte `end - 1`
        // is the last.
        let last_ours = (range.end - 1 - at) as usize;
        let cut = match buffer.iter().skip(last_ours).position(|&b| b == b'\n') {
            Some(newline) => Some(last_ours + newline + 1),
            None if ended => Some(buffer.len()),
            None => None,
        };
        if let Some(cut) = cut {
            return match cut {
                0 => Ok(true),
                _ => each(&buffer[..cut]),
            };
        }
        // Every line read so far is ours: hand on the whole ones, keep the partial last.
        let Some(newline) = buffer.iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        if !each(&buffer[..=newline])? {
            return Ok(false);
        }
        buffer.drain(..=newline);
        at += newline as u64 + 1;
    }
}

/// Reads until `buf` is full or the file ends; how many bytes were read.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    #[test]
    fn every_line_is_in_one_range_whichever_byte_the_ranges_are_cut_at() {
        let dir = std::env::temp_dir().join(format!("eddy-regions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lines.csv");
        for text in ["h\n1\n22\n333\n4444\n", "h\n1\n22\n333\n4444"] {
            std::fs::write(&path, text).unwrap();
            let path = Arc::new(PathBuf::from(&path));
            for cut in 0..=text.len() as u64 {
                let mut lines = Vec::new();
                for (start, end) in [(0, cut), (cut, text.len() as u64)] {
                    let range = Range {
                        path: path.clone(),
                        start,
                        end,
                    };
                    for_each_region(&range, true, &mut |region| {
                        lines.extend(
                            String::from_utf8(region.to_vec())
                                .unwrap()
                                .lines()
                                .map(String::from),
                        );
                        Ok(true)
                    })
                    .unwrap();
                }
                assert_eq!(lines, ["1", "22", "333", "4444"], "{text:?} cut at {cut}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
