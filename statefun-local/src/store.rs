//! The state directory: what makes a killed run resume with nothing lost
//! and nothing applied twice.
//!
//! - `ingress-<n>.log`: every accepted input message, appended and synced
//!   to disk before it enters the job (and before an HTTP POST is
//!   answered), as a Kafka topic holds records. A new segment starts at
//!   each checkpoint.
//! - `checkpoint.bin`: the last completed checkpoint, replaced atomically
//!   (written aside, synced, renamed): the harness's checkpoint, the first
//!   log segment it does not cover, how far each input file was read, and
//!   the egress records it committed with the length of the egress file
//!   before them.
//! - `lock`: held while a run uses the directory.
//!
//! A restart restores the checkpoint and repairs the egress file: the
//! records the checkpoint committed (exactly-once egresses) are in it
//! once, written again if the kill cut them; the at-least-once records
//! written after them stay (the replay writes them again, as Flink's
//! at-least-once Kafka producer does). Then it replays the log segments
//! after the checkpoint in order.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use prost::Message as _;

/// The version of `checkpoint.bin`.
const FORMAT: u32 = 1;
const CHECKPOINT: &str = "checkpoint.bin";

/// `checkpoint.bin`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Saved {
    #[prost(uint32, tag = "1")]
    pub(crate) format: u32,
    /// `statefun_harness::Checkpoint::to_bytes`.
    #[prost(bytes = "bytes", tag = "2")]
    pub(crate) harness: Bytes,
    /// The first ingress log segment the checkpoint does not cover.
    #[prost(uint64, tag = "3")]
    pub(crate) replay_from: u64,
    /// How far each input file had been read into the log.
    #[prost(message, repeated, tag = "4")]
    pub(crate) positions: Vec<Position>,
    /// The egress file's length before `pending`.
    #[prost(uint64, tag = "5")]
    pub(crate) egress_length: u64,
    /// The egress lines this checkpoint committed.
    #[prost(string, repeated, tag = "6")]
    pub(crate) pending: Vec<String>,
    /// Unix time in milliseconds when it was taken: delayed messages keep
    /// counting while the runtime is down, as processing time does.
    #[prost(uint64, tag = "7")]
    pub(crate) wall_clock_millis: u64,
    /// Where the egress went: `-` for stdout, else the file's absolute
    /// path. A restart repairs only that file.
    #[prost(string, tag = "8")]
    pub(crate) egress_target: String,
}

/// How far an input file has been read: the byte offset after the last
/// line taken, and that line's number.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub(crate) struct Position {
    #[prost(string, tag = "1")]
    pub(crate) path: String,
    #[prost(uint64, tag = "2")]
    pub(crate) offset: u64,
    #[prost(uint64, tag = "3")]
    pub(crate) line: u64,
}

/// One accepted input line (or HTTP request) in the ingress log: its
/// messages, or a move of the virtual clock, written as one frame so a
/// torn write drops all of it or none.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Logged {
    #[prost(message, repeated, tag = "1")]
    pub(crate) messages: Vec<LoggedMessage>,
    /// `{"advance": ..}`, in nanoseconds.
    #[prost(uint64, optional, tag = "2")]
    pub(crate) advance_nanos: Option<u64>,
    /// Where the line ends, for input files.
    #[prost(message, optional, tag = "3")]
    pub(crate) position: Option<Position>,
}

/// A message of a [`Logged`] entry.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LoggedMessage {
    #[prost(string, tag = "1")]
    pub(crate) function_type: String,
    #[prost(string, tag = "2")]
    pub(crate) id: String,
    #[prost(string, tag = "3")]
    pub(crate) type_name: String,
    #[prost(bytes = "bytes", tag = "4")]
    pub(crate) value: Bytes,
}

/// A state directory in use.
#[derive(Debug)]
pub(crate) struct StateDir {
    dir: PathBuf,
    /// Held for the life of the run (released by the OS if it is killed).
    _lock: File,
    segment: u64,
    log: File,
}

/// What a restart finds.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    pub(crate) checkpoint: Option<Saved>,
    /// Messages accepted after the checkpoint, in order.
    pub(crate) replay: Vec<Logged>,
    /// Bytes at the end of a segment that were not a whole message (a
    /// write cut by the kill: never acknowledged).
    pub(crate) torn_bytes: u64,
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("ingress-{n:020}.log"))
}

fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name
            .strip_prefix("ingress-")
            .and_then(|rest| rest.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            found.push(n);
        }
    }
    found.sort_unstable();
    Ok(found)
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

/// Syncs a directory, so a rename or a new file in it survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads the last checkpoint of `dir`, if any.
pub(crate) fn read_checkpoint(dir: &Path) -> io::Result<Option<Saved>> {
    let path = dir.join(CHECKPOINT);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let saved = Saved::decode(&bytes[..]).map_err(|e| invalid(&path, e))?;
    if saved.format != FORMAT {
        return Err(invalid(
            &path,
            format!(
                "checkpoint format {} (this statefun-local reads {FORMAT})",
                saved.format
            ),
        ));
    }
    Ok(Some(saved))
}

impl StateDir {
    /// Opens (creating) `dir` for a run: takes the lock, reads the last
    /// checkpoint and the messages logged after it, and starts a new log
    /// segment.
    pub(crate) fn open(dir: &Path) -> io::Result<(Self, Recovered)> {
        fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("{} is in use by another statefun-local", dir.display()),
                ));
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
        let checkpoint = read_checkpoint(dir)?;
        let replay_from = checkpoint.as_ref().map_or(0, |c| c.replay_from);
        let mut recovered = Recovered {
            checkpoint,
            ..Recovered::default()
        };
        let existing = segments(dir)?;
        for &n in &existing {
            let path = segment_path(dir, n);
            if n < replay_from {
                // Covered by the checkpoint (left by a kill during the
                // checkpoint's clean-up).
                fs::remove_file(&path)?;
                continue;
            }
            recovered.torn_bytes += read_segment(&path, &mut recovered.replay)?;
        }
        let segment = existing
            .last()
            .map_or(replay_from, |last| last + 1)
            .max(replay_from);
        let log = create_segment(dir, segment)?;
        Ok((
            Self {
                dir: dir.to_owned(),
                _lock: lock,
                segment,
                log,
            },
            recovered,
        ))
    }

    /// Appends messages to the log and syncs it: once this returns they
    /// survive a kill.
    pub(crate) fn append(&mut self, messages: &[Logged]) -> io::Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut buffer = Vec::new();
        for message in messages {
            message
                .encode_length_delimited(&mut buffer)
                .map_err(io::Error::other)?;
        }
        self.log.write_all(&buffer)?;
        self.log.sync_data()
    }

    /// Completes a checkpoint on disk. `saved` covers every message
    /// appended so far: a new log segment starts, the checkpoint replaces
    /// the last one, and the segments it covers are removed.
    pub(crate) fn checkpoint(&mut self, mut saved: Saved) -> io::Result<()> {
        let next = self.segment + 1;
        self.log = create_segment(&self.dir, next)?;
        self.segment = next;
        saved.format = FORMAT;
        saved.replay_from = next;
        let path = self.dir.join(CHECKPOINT);
        let aside = self.dir.join("checkpoint.bin.tmp");
        {
            let mut file = File::create(&aside)?;
            file.write_all(&saved.encode_to_vec())?;
            file.sync_all()?;
        }
        fs::rename(&aside, &path)?;
        sync_dir(&self.dir)?;
        for n in segments(&self.dir)? {
            if n < next {
                fs::remove_file(segment_path(&self.dir, n))?;
            }
        }
        Ok(())
    }
}

fn create_segment(dir: &Path, n: u64) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, n))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Reads the whole messages of a segment into `out`; returns how many
/// bytes at its end were not a whole message.
fn read_segment(path: &Path, out: &mut Vec<Logged>) -> io::Result<u64> {
    let mut bytes = Vec::new();
    BufReader::new(File::open(path)?).read_to_end(&mut bytes)?;
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let before = rest;
        match prost::decode_length_delimiter(&mut rest) {
            Ok(len) if len <= rest.len() => {
                let message = Logged::decode(&rest[..len]).map_err(|e| invalid(path, e))?;
                out.push(message);
                rest = &rest[len..];
            }
            // A length cut short, or a message cut short: the end of a
            // write the kill interrupted.
            _ => return Ok(before.len() as u64),
        }
    }
    Ok(0)
}

/// Where egress records go: stdout, or a file that a restart repairs.
#[derive(Debug)]
pub(crate) enum Sink {
    Stdout,
    File {
        path: PathBuf,
        file: File,
        length: u64,
    },
}

impl Sink {
    /// The egress file at `path` (created), or stdout.
    pub(crate) fn open(path: Option<&Path>) -> io::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::Stdout);
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        let length = file.metadata()?.len();
        Ok(Self::File {
            path: path.to_owned(),
            file,
            length,
        })
    }

    /// What a checkpoint records as the target: `-` or the file's
    /// absolute path.
    pub(crate) fn target(&self) -> String {
        match self {
            Self::Stdout => "-".into(),
            Self::File { path, .. } => fs::canonicalize(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
        }
    }

    /// The length a checkpoint records (0 for stdout).
    pub(crate) fn length(&self) -> u64 {
        match self {
            Self::Stdout => 0,
            Self::File { length, .. } => *length,
        }
    }

    /// After a restart: the file the checkpoint wrote to (`target`) as it
    /// left it. When the checkpoint's `pending` (exactly-once) records
    /// follow `length` whole, they were written: the file is kept, with
    /// the at-least-once records written after them (cut to its last whole
    /// line: a line torn by the kill was never a record). Otherwise the
    /// kill came while they were being written: the file is cut to
    /// `length` and `pending` written again. Another target (egress moved
    /// to another file or to stdout, or the file shrank) is never cut:
    /// `pending` is added at its end, as on stdout, where it is written
    /// again since it may have been written before the kill. Returns
    /// whether the file was repaired in place.
    pub(crate) fn recover(
        &mut self,
        target: &str,
        length: u64,
        pending: &[String],
    ) -> io::Result<bool> {
        use std::io::Seek as _;
        let same = self.target() == target;
        let mut repaired = false;
        if let Self::File {
            file,
            length: current,
            ..
        } = self
            && same
            && *current >= length
        {
            let mut tail = Vec::new();
            file.seek(io::SeekFrom::Start(length))?;
            file.read_to_end(&mut tail)?;
            let written = lines_text(pending);
            if tail.starts_with(written.as_bytes()) {
                let whole = tail
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1)
                    .max(written.len());
                let keep = length + whole as u64;
                file.set_len(keep)?;
                *current = keep;
                return Ok(true);
            }
            file.set_len(length)?;
            *current = length;
            repaired = true;
        }
        self.write(pending)?;
        Ok(repaired)
    }

    /// Writes lines (and syncs a file).
    pub(crate) fn write(&mut self, lines: &[String]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let text = lines_text(lines);
        match self {
            Self::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes())?;
                out.flush()
            }
            Self::File { file, length, .. } => {
                // Appends at the recorded length, whatever was there.
                use std::io::Seek as _;
                file.seek(io::SeekFrom::Start(*length))?;
                file.write_all(text.as_bytes())?;
                file.sync_data()?;
                *length += text.len() as u64;
                Ok(())
            }
        }
    }
}

/// Lines as the egress file holds them, each ended by a newline.
fn lines_text(lines: &[String]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "statefun-local-store-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn logged(id: &str) -> Logged {
        Logged {
            messages: vec![LoggedMessage {
                function_type: "a/f".into(),
                id: id.into(),
                type_name: "a/T".into(),
                value: Bytes::from_static(b"{}"),
            }],
            advance_nanos: None,
            position: None,
        }
    }

    #[test]
    fn log_checkpoint_and_recover() {
        let dir = scratch("recover");
        {
            let (mut store, recovered) = StateDir::open(&dir).unwrap();
            assert!(recovered.checkpoint.is_none() && recovered.replay.is_empty());
            store.append(&[logged("1"), logged("2")]).unwrap();
            store
                .checkpoint(Saved {
                    pending: vec!["x".into()],
                    ..Saved::default()
                })
                .unwrap();
            store.append(&[logged("3")]).unwrap();
            // A second run cannot take the directory meanwhile.
            let error = StateDir::open(&dir).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("in use by another statefun-local")
            );
        }
        // A write cut short by a kill.
        let last = *segments(&dir).unwrap().last().unwrap();
        let mut file = OpenOptions::new()
            .append(true)
            .open(segment_path(&dir, last))
            .unwrap();
        file.write_all(&[0x20, 1, 2]).unwrap();
        drop(file);
        let (_store, recovered) = StateDir::open(&dir).unwrap();
        let checkpoint = recovered.checkpoint.unwrap();
        assert_eq!(checkpoint.pending, ["x"]);
        let ids: Vec<&str> = recovered
            .replay
            .iter()
            .map(|m| m.messages[0].id.as_str())
            .collect();
        assert_eq!(ids, ["3"]);
        assert_eq!(recovered.torn_bytes, 3);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_egress_file_is_repaired() {
        let dir = scratch("sink");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("egress.jsonl");
        let mut sink = Sink::open(Some(&path)).unwrap();
        sink.write(&["a".into(), "b".into()]).unwrap();
        let length = sink.length();
        sink.write(&["c".into()]).unwrap();
        // Killed after writing "c" (and part of "d") for a checkpoint whose
        // file recorded `length` before them.
        fs::write(&path, "a\nb\nc\nd").unwrap();
        let mut sink = Sink::open(Some(&path)).unwrap();
        let target = sink.target();
        assert!(
            sink.recover(&target, length, &["c".into(), "d".into()])
                .unwrap()
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\nb\nc\nd\n");
        // A checkpoint that wrote elsewhere never cuts this file.
        let other = dir.join("notes.txt");
        fs::write(&other, "keep me\n").unwrap();
        let mut sink = Sink::open(Some(&other)).unwrap();
        assert!(!sink.recover("-", 0, &["e".into()]).unwrap());
        assert_eq!(fs::read_to_string(&other).unwrap(), "keep me\ne\n");
        let _ = fs::remove_dir_all(&dir);
    }

    /// At-least-once records written after a checkpoint's exactly-once
    /// ones stay after a kill (Flink's at-least-once Kafka producer does
    /// not take them back, `KafkaSinkProvider.java`); a line torn by the
    /// kill goes.
    #[test]
    fn at_least_once_records_after_the_checkpoint_stay() {
        let dir = scratch("sink-alo");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("egress.jsonl");
        let mut sink = Sink::open(Some(&path)).unwrap();
        sink.write(&["a".into()]).unwrap();
        let length = sink.length();
        // The checkpoint's record "c", then at-least-once "x" and a torn
        // "y".
        fs::write(&path, "a\nc\nx\ny").unwrap();
        let mut sink = Sink::open(Some(&path)).unwrap();
        let target = sink.target();
        assert!(sink.recover(&target, length, &["c".into()]).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\nc\nx\n");
        sink.write(&["x".into()]).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\nc\nx\nx\n");
        // A checkpoint with no exactly-once records.
        let mut sink = Sink::open(Some(&path)).unwrap();
        assert!(sink.recover(&target, length, &[]).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\nc\nx\nx\n");
        let _ = fs::remove_dir_all(&dir);
    }
}
