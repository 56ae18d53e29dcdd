//! [`DecodeError`]: why bytes are not the message they were read as.

use std::fmt;

/// How deeply messages and groups may nest, as in prost; deeper is
/// [`Problem::TooDeep`].
pub const RECURSION_LIMIT: u32 = 100;

/// Why bytes could not be read as a protocol message: what was wrong, and
/// in which message (`"ToFunction"`, `"Address"`, ...).
///
/// Small and `Copy`, so a reader's results stay in registers; the text is
/// built only when the error is shown.
///
/// ```
/// use statefun_protocol::wire::to_function;
///
/// let error = to_function::read(b"\xff\xff\xff").unwrap_err();
/// assert_eq!(error.to_string(), "truncated varint in ToFunction");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    problem: Problem,
    message: &'static str,
}

/// What was wrong with the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A varint runs past the end of its message.
    TruncatedVarint,
    /// A varint longer than 64 bits.
    VarintOverflow,
    /// A field key with field number 0.
    FieldNumberZero,
    /// A field key larger than 32 bits.
    InvalidKey,
    /// A length runs past the end of its message.
    LengthPastEnd,
    /// A fixed-width field runs past the end of its message.
    TruncatedFixed,
    /// A wire type that cannot be skipped (6, 7, or a stray end-group).
    UnsupportedWireType(u8),
    /// A known field with another wire type than its declared one.
    WrongWireType {
        /// The field's name in the schema.
        field: &'static str,
        /// The wire type found.
        wire_type: u8,
    },
    /// A string field that is not UTF-8.
    InvalidUtf8 {
        /// The field's name in the schema.
        field: &'static str,
    },
    /// A group with no end-group tag.
    UnterminatedGroup,
    /// An end-group tag that closes another group.
    MismatchedEndGroup,
    /// Messages and groups nested deeper than protobuf's recursion limit.
    TooDeep,
    /// Bytes of 4 GiB or more (offsets are 32 bits; the runtime's own
    /// limit is 32 MiB).
    TooLarge,
    /// A `ToFunction` without an invocation batch.
    NoInvocationBatch,
}

impl DecodeError {
    /// `problem` in `message`.
    #[must_use]
    pub const fn new(problem: Problem, message: &'static str) -> Self {
        Self { problem, message }
    }

    /// What was wrong.
    #[must_use]
    pub const fn problem(&self) -> Problem {
        self.problem
    }

    /// The protocol message being read.
    #[must_use]
    pub const fn message(&self) -> &'static str {
        self.message
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.message;
        match self.problem {
            Problem::TruncatedVarint => write!(f, "truncated varint in {message}"),
            Problem::VarintOverflow => write!(f, "varint longer than 64 bits in {message}"),
            Problem::FieldNumberZero => write!(f, "field number 0 in {message}"),
            Problem::InvalidKey => write!(f, "field key larger than 32 bits in {message}"),
            Problem::LengthPastEnd => write!(f, "field length exceeds the message in {message}"),
            Problem::TruncatedFixed => write!(f, "truncated fixed-width field in {message}"),
            Problem::UnsupportedWireType(t) => {
                write!(f, "unsupported wire type {t} in {message}")
            }
            Problem::WrongWireType { field, wire_type } => {
                write!(
                    f,
                    "wrong wire type {wire_type} for field {field} in {message}"
                )
            }
            Problem::InvalidUtf8 { field } => {
                write!(f, "invalid UTF-8 in field {field} in {message}")
            }
            Problem::UnterminatedGroup => write!(f, "unterminated group in {message}"),
            Problem::MismatchedEndGroup => {
                write!(f, "end-group tag of another group in {message}")
            }
            Problem::TooDeep => write!(
                f,
                "messages or groups nested more than {RECURSION_LIMIT} deep in {message}"
            ),
            Problem::TooLarge => write!(f, "the {message} is larger than 4 GiB"),
            Problem::NoInvocationBatch => write!(f, "the {message} carries no invocation batch"),
        }
    }
}

impl std::error::Error for DecodeError {}
