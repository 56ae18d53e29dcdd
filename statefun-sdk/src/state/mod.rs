//! Declared state: [`ValueSpec<T>`], its [`Expiration`], and the
//! per-batch [`Storage`] a function reads and writes through.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::{FunctionSpecBuilder, TypeName, Value};

mod storage;

pub(crate) use storage::decode_small;
pub use storage::{StateError, StateErrorKind, Storage};

/// The state name the runtime uses internally for each address's backlog;
/// a value with this name would collide with it.
const RESERVED: &str = "batch";

/// A set of state values declared together: what `#[derive(State)]`
/// implements for a struct whose fields are the values.
///
/// Written by hand it is a list of [`ValueSpec`]s:
///
/// ```
/// use std::time::Duration;
/// use stateful_functions::{Expiration, FunctionSpecBuilder, State, ValueSpec};
///
/// struct CartState;
///
/// impl CartState {
///     const ITEMS: ValueSpec<String> = ValueSpec::named("items");
///     const LAST_SEEN: ValueSpec<i64> = ValueSpec::named("last_seen")
///         .with_expiration(Expiration::AfterCall(Duration::from_secs(15 * 60)));
/// }
///
/// impl State for CartState {
///     fn declare(builder: FunctionSpecBuilder) -> FunctionSpecBuilder {
///         builder.with_state(&Self::ITEMS).with_state(&Self::LAST_SEEN)
///     }
/// }
/// # let _ = (CartState::ITEMS, CartState::LAST_SEEN);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not declare StateFun state",
    note = "derive it with `#[derive(stateful_functions::State)]` on a struct whose fields are the state values, or implement `stateful_functions::State` by hand"
)]
pub trait State {
    /// Adds every value of the set to a function's declaration.
    fn declare(builder: FunctionSpecBuilder) -> FunctionSpecBuilder;

    /// Writes every value of `self` into `storage`, as one
    /// [`Storage::set`] per value. `#[derive(State)]` implements it; the
    /// default writes nothing (for sets that are only declarations).
    ///
    /// # Errors
    ///
    /// As [`Storage::set`].
    fn store(&self, storage: &mut Storage) -> Result<(), StateError> {
        let _ = storage;
        Ok(())
    }
}

/// No state.
impl State for () {
    fn declare(builder: FunctionSpecBuilder) -> FunctionSpecBuilder {
        builder
    }
}

/// One typed state value a function declares: a name, a value type `T` and
/// an [`Expiration`].
///
/// Names follow the Java and Go SDK rule `[A-Za-z_][A-Za-z0-9_]*`, and
/// `batch` is reserved (the runtime keeps each address's backlog under that
/// name). Declare specs as constants, where a bad name is a compile error:
///
/// ```
/// use std::time::Duration;
/// use stateful_functions::{Expiration, ValueSpec};
///
/// const SEEN: ValueSpec<i32> = ValueSpec::named("seen_count");
/// const LAST: ValueSpec<String> = ValueSpec::named("last_greeting")
///     .with_expiration(Expiration::AfterCall(Duration::from_secs(3600)));
///
/// assert_eq!(SEEN.name(), "seen_count");
/// assert_eq!(LAST.expiration(), Expiration::AfterCall(Duration::from_secs(3600)));
/// ```
///
/// or build them at run time with [`ValueSpec::try_named`].
pub struct ValueSpec<T> {
    name: Cow<'static, str>,
    expiration: Expiration,
    _type: PhantomData<fn() -> T>,
}

impl<T> ValueSpec<T> {
    /// Declares a value named `name`, without expiration.
    ///
    /// # Panics
    ///
    /// When `name` is not a valid state name; in a `const` item that is a
    /// compile error.
    #[must_use]
    pub const fn named(name: &'static str) -> Self {
        match check_name(name) {
            Ok(()) => {}
            Err(NameProblem::Empty) => panic!("a state name must not be empty"),
            Err(NameProblem::BadFirst) => {
                panic!("a state name must start with an ASCII letter or `_`")
            }
            Err(NameProblem::BadChar) => {
                panic!("a state name may contain only ASCII letters, digits and `_`")
            }
            Err(NameProblem::Reserved) => {
                panic!("`batch` is reserved by the runtime and cannot name a state")
            }
        }
        Self {
            name: Cow::Borrowed(name),
            expiration: Expiration::Never,
            _type: PhantomData,
        }
    }

    /// Declares a value whose name is only known at run time.
    ///
    /// # Errors
    ///
    /// When `name` is not a valid state name.
    ///
    /// ```
    /// use stateful_functions::ValueSpec;
    ///
    /// assert!(ValueSpec::<i64>::try_named(format!("counter_{}", 2)).is_ok());
    /// assert!(ValueSpec::<i64>::try_named("2fast").is_err());
    /// assert!(ValueSpec::<i64>::try_named("batch").is_err());
    /// ```
    pub fn try_named(name: impl Into<String>) -> Result<Self, SpecError> {
        let name = name.into();
        match check_name(&name) {
            Ok(()) => Ok(Self {
                name: Cow::Owned(name),
                expiration: Expiration::Never,
                _type: PhantomData,
            }),
            Err(problem) => Err(SpecError::InvalidStateName { name, problem }),
        }
    }

    /// Sets how the value expires.
    #[must_use]
    pub const fn with_expiration(mut self, expiration: Expiration) -> Self {
        self.expiration = expiration;
        self
    }

    /// The state name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the value expires.
    #[must_use]
    pub const fn expiration(&self) -> Expiration {
        self.expiration
    }
}

impl<T: Value> ValueSpec<T> {
    /// The type-erased declaration, as reported to the runtime.
    ///
    /// # Errors
    ///
    /// When `T`'s typename has more than one `/` (the runtime rejects such
    /// state types) or the expiration does not fit in `i64` milliseconds.
    ///
    /// ```
    /// use stateful_functions::ValueSpec;
    ///
    /// let spec = ValueSpec::<i32>::named("seen").to_state_spec()?;
    /// assert_eq!(spec.type_name().as_str(), "io.statefun.types/int");
    /// # Ok::<(), stateful_functions::SpecError>(())
    /// ```
    pub fn to_state_spec(&self) -> Result<StateSpec, SpecError> {
        let type_name = T::type_name();
        if !type_name.has_single_slash() {
            return Err(SpecError::StateTypeNotSingleSlash {
                name: self.name.to_string(),
                type_name,
            });
        }
        if let Some(ttl) = self.expiration.ttl() {
            // Flink's state TTL must be a positive number of milliseconds;
            // the runtime fails the job on registering anything shorter.
            if ttl < Duration::from_millis(1) {
                return Err(SpecError::ExpirationTooShort {
                    name: self.name.to_string(),
                    ttl,
                });
            }
            if i64::try_from(ttl.as_millis()).is_err() {
                return Err(SpecError::ExpirationOutOfRange {
                    name: self.name.to_string(),
                    ttl,
                });
            }
        }
        Ok(StateSpec {
            name: self.name.clone(),
            type_name,
            expiration: self.expiration,
        })
    }
}

impl<T> Clone for ValueSpec<T> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            expiration: self.expiration,
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for ValueSpec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueSpec")
            .field("name", &self.name)
            .field("type", &std::any::type_name::<T>())
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// How a state value expires. The time-to-live runs on the runtime's
/// processing-time clock; an expired value arrives as "no value".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Expiration {
    /// Never expires.
    #[default]
    Never,
    /// Expires this long after the last write.
    AfterWrite(Duration),
    /// Expires this long after the last read or write. The runtime reads
    /// every declared value for each request, so in practice: this long
    /// after the last message to the address or the last write.
    AfterCall(Duration),
}

impl Expiration {
    /// The time-to-live, if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stateful_functions::Expiration;
    ///
    /// assert_eq!(Expiration::Never.ttl(), None);
    /// assert_eq!(Expiration::AfterWrite(Duration::from_secs(1)).ttl(), Some(Duration::from_secs(1)));
    /// ```
    #[must_use]
    pub const fn ttl(self) -> Option<Duration> {
        match self {
            Self::Never => None,
            Self::AfterWrite(d) | Self::AfterCall(d) => Some(d),
        }
    }
}

/// A declared state value with its type erased: what a function reports to
/// the runtime when the runtime lacks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSpec {
    name: Cow<'static, str>,
    type_name: TypeName,
    expiration: Expiration,
}

impl StateSpec {
    /// The state name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The typename of the value type.
    #[must_use]
    pub fn type_name(&self) -> &TypeName {
        &self.type_name
    }

    /// How the value expires.
    #[must_use]
    pub fn expiration(&self) -> Expiration {
        self.expiration
    }
}

/// What is wrong with a state name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameProblem {
    /// The name is empty.
    Empty,
    /// The first character is not an ASCII letter or `_`.
    BadFirst,
    /// A character is not an ASCII letter, digit or `_`.
    BadChar,
    /// The name is `batch`, which the runtime uses internally.
    Reserved,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "it is empty",
            Self::BadFirst => "it must start with an ASCII letter or `_`",
            Self::BadChar => "it may contain only ASCII letters, digits and `_`",
            Self::Reserved => "`batch` is reserved by the runtime",
        })
    }
}

const fn check_name(name: &str) -> Result<(), NameProblem> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(NameProblem::Empty);
    }
    if !(bytes[0].is_ascii_alphabetic() || bytes[0] == b'_') {
        return Err(NameProblem::BadFirst);
    }
    let mut i = 1;
    while i < bytes.len() {
        if !(bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            return Err(NameProblem::BadChar);
        }
        i += 1;
    }
    let reserved = RESERVED.as_bytes();
    if bytes.len() == reserved.len() {
        let mut j = 0;
        while j < bytes.len() && bytes[j] == reserved[j] {
            j += 1;
        }
        if j == bytes.len() {
            return Err(NameProblem::Reserved);
        }
    }
    Ok(())
}

/// A state or function declaration that the runtime would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The state name breaks the naming rule.
    #[error("invalid state name {name:?}: {problem}")]
    InvalidStateName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        problem: NameProblem,
    },
    /// The state's value type has a typename the runtime cannot parse.
    #[error(
        "state {name:?} has value type {type_name}, but the runtime requires state types with exactly one `/`"
    )]
    StateTypeNotSingleSlash {
        /// The state name.
        name: String,
        /// The value type's typename.
        type_name: TypeName,
    },
    /// The time-to-live does not fit the protocol's `i64` milliseconds.
    #[error("state {name:?} has an expiration of {ttl:?}, more than the protocol can carry")]
    ExpirationOutOfRange {
        /// The state name.
        name: String,
        /// The time-to-live.
        ttl: Duration,
    },
    /// The time-to-live is shorter than one millisecond.
    #[error(
        "state {name:?} has an expiration of {ttl:?}; the runtime needs at least one millisecond"
    )]
    ExpirationTooShort {
        /// The state name.
        name: String,
        /// The time-to-live.
        ttl: Duration,
    },
    /// Two states of one function share a name.
    #[error("function {function_type} declares state {name:?} twice")]
    DuplicateState {
        /// The function type.
        function_type: TypeName,
        /// The duplicated name.
        name: String,
    },
    /// The function type has more than one `/`; the runtime's module
    /// configuration cannot bind it.
    #[error("function type {function_type} must have exactly one `/` for the runtime to bind it")]
    FunctionTypeNotSingleSlash {
        /// The function type.
        function_type: TypeName,
    },
    /// A state declaration of a function is invalid.
    #[error("function {function_type}: {source}")]
    InFunction {
        /// The function type.
        function_type: TypeName,
        /// The problem.
        #[source]
        source: Box<SpecError>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_follow_the_rule() {
        for ok in ["a", "_", "seen_count", "A1", "_x9", "batch_size", "batches"] {
            assert!(ValueSpec::<i32>::try_named(ok).is_ok(), "{ok}");
        }
        for (bad, problem) in [
            ("", NameProblem::Empty),
            ("1a", NameProblem::BadFirst),
            ("a-b", NameProblem::BadChar),
            ("a b", NameProblem::BadChar),
            ("héllo", NameProblem::BadChar),
            ("batch", NameProblem::Reserved),
        ] {
            match ValueSpec::<i32>::try_named(bad) {
                Err(SpecError::InvalidStateName { problem: p, .. }) => {
                    assert_eq!(p, problem, "{bad}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn state_types_need_a_single_slash() {
        struct Nested;
        impl Value for Nested {
            fn type_name() -> TypeName {
                TypeName::from_static("a/b/c")
            }
            fn to_bytes(&self) -> Result<bytes::Bytes, crate::ValueError> {
                Ok(bytes::Bytes::new())
            }
            fn from_bytes(_: &bytes::Bytes) -> Result<Self, crate::ValueError> {
                Ok(Nested)
            }
        }
        let err = ValueSpec::<Nested>::named("n").to_state_spec().unwrap_err();
        assert!(err.to_string().contains("exactly one `/`"), "{err}");
    }

    #[test]
    fn sub_millisecond_expiration_is_rejected() {
        for ttl in [Duration::ZERO, Duration::from_micros(999)] {
            let spec = ValueSpec::<i32>::named("x").with_expiration(Expiration::AfterCall(ttl));
            let err = spec.to_state_spec().unwrap_err();
            assert!(
                matches!(err, SpecError::ExpirationTooShort { .. }),
                "{err:?}"
            );
        }
        let ok = ValueSpec::<i32>::named("x")
            .with_expiration(Expiration::AfterWrite(Duration::from_millis(1)));
        assert!(ok.to_state_spec().is_ok());
    }

    #[test]
    fn oversized_expiration_is_rejected() {
        let spec =
            ValueSpec::<i32>::named("x").with_expiration(Expiration::AfterWrite(Duration::MAX));
        assert!(matches!(
            spec.to_state_spec(),
            Err(SpecError::ExpirationOutOfRange { .. })
        ));
    }

    proptest! {
        #[test]
        fn matches_the_reference_pattern(name in "\\PC{0,12}") {
            let expected = !name.is_empty()
                && name != "batch"
                && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            prop_assert_eq!(ValueSpec::<i32>::try_named(name).is_ok(), expected);
        }
    }
}
