//! [`Storage`]: the state of one address during one batch.

use std::fmt;
use std::sync::Arc;

use smallvec::SmallVec;

use super::{StateSpec, ValueSpec};
use crate::protocol::Received;
use crate::small_bytes::SmallBytes;
use crate::{Address, TypeName, Value, ValueError};

/// The declared state of one address, as seen by one batch of invocations.
///
/// It starts from the values the runtime sent with the request. Writes are
/// visible to later invocations of the same batch, and when the batch ends
/// every value that was written or removed becomes one mutation in the
/// response. Values are decoded on each read and encoded on each write.
///
/// Get it from [`Context::storage`](crate::Context::storage):
///
/// ```
/// use stateful_functions::{Context, FunctionError, ValueSpec};
///
/// const VISITS: ValueSpec<i64> = ValueSpec::named("visits");
/// const LAST: ValueSpec<String> = ValueSpec::named("last");
///
/// fn visit(ctx: &mut Context, name: String) -> Result<(), FunctionError> {
///     let storage = ctx.storage();
///     let visits = storage.get(&VISITS)?.unwrap_or(0) + 1; // None: no value yet
///     storage.set(&VISITS, &visits)?;
///     if storage.contains(&LAST)? && name.is_empty() {
///         storage.remove(&LAST)?; // becomes a DELETE mutation
///     } else {
///         storage.set(&LAST, &name)?; // one MODIFY, however often it is set
///     }
///     Ok(())
/// }
/// # let _ = visit;
/// ```
pub struct Storage {
    specs: Arc<[StateSpec]>,
    cells: SmallVec<[Cell; 4]>,
    /// The typenames the runtime sent that differ from the declared ones,
    /// by cell index: rare, so kept out of the cells.
    foreign_types: Vec<(usize, Box<str>)>,
    address: Address,
}

#[derive(Debug, Clone)]
struct Cell {
    value: Slot,
    dirty: bool,
}

/// A state's current value: `None` when it has none; else its bytes, as
/// received or as written in this batch.
type Slot = Option<SmallBytes>;

impl Storage {
    /// The state of `address`, declared by `specs`: empty until
    /// [`Storage::resolve`] fills it in.
    #[inline(always)]
    pub(crate) fn new(specs: Arc<[StateSpec]>, address: Address) -> Self {
        Self {
            cells: SmallVec::with_capacity(specs.len()),
            specs,
            foreign_types: Vec::new(),
            address,
        }
    }

    /// Matches the received values to the declared specs by name;
    /// `received` finds a state by name in the request.
    ///
    /// Returns the indices of the declared specs the request lacks when any
    /// are missing; values the function does not declare are ignored.
    #[inline(always)]
    pub(crate) fn resolve<'r>(
        &mut self,
        received: impl Fn(&str) -> Option<Received<'r>>,
    ) -> Result<(), Vec<usize>> {
        let mut missing = Vec::new();
        for (index, spec) in self.specs.iter().enumerate() {
            match received(spec.name()) {
                None => missing.push(index),
                Some(value) => self.cells.push(Cell {
                    value: value.map(|(type_name, bytes)| {
                        if type_name != spec.type_name().as_str().as_bytes() {
                            self.foreign_types
                                .push((index, String::from_utf8_lossy(type_name).into()));
                        }
                        bytes
                    }),
                    dirty: false,
                }),
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing)
        }
    }

    /// Reads a value: `None` when the state has no value.
    ///
    /// # Errors
    ///
    /// When the function did not declare `spec`, declared it with another
    /// type, the runtime holds a value of another type, or the bytes do not
    /// decode.
    pub fn get<T: Value>(&self, spec: &ValueSpec<T>) -> Result<Option<T>, StateError> {
        let index = self.index_of::<T>(spec.name())?;
        let cell = &self.cells[index];
        if let Some((_, stored)) = self.foreign_types.iter().find(|(i, _)| *i == index) {
            return Err(StateError::new(StateErrorKind::StoredTypeMismatch {
                state: spec.name().to_owned(),
                declared: self.specs[index].type_name().clone(),
                stored: stored.to_string(),
                address: self.address.clone(),
            }));
        }
        let Some(bytes) = &cell.value else {
            return Ok(None);
        };
        let decoded = decode_small::<T>(bytes);
        decoded.map(Some).map_err(|source| {
            StateError::new(StateErrorKind::Value {
                state: spec.name().to_owned(),
                address: self.address.clone(),
                source,
            })
        })
    }

    /// Writes a value.
    ///
    /// # Errors
    ///
    /// When the function did not declare `spec`, declared it with another
    /// type, or the value does not encode.
    pub fn set<T: Value>(&mut self, spec: &ValueSpec<T>, value: &T) -> Result<(), StateError> {
        let index = self.index_of::<T>(spec.name())?;
        let bytes = SmallBytes::encode(|buf| value.encode_into(buf)).map_err(|source| {
            StateError::new(StateErrorKind::Value {
                state: spec.name().to_owned(),
                address: self.address.clone(),
                source,
            })
        })?;
        let cell = &mut self.cells[index];
        cell.value = Some(bytes);
        cell.dirty = true;
        self.forget_foreign_type(index);
        Ok(())
    }

    /// Removes a value, so the next read gives `None`.
    ///
    /// # Errors
    ///
    /// When the function did not declare `spec` or declared it with another
    /// type.
    pub fn remove<T: Value>(&mut self, spec: &ValueSpec<T>) -> Result<(), StateError> {
        let index = self.index_of::<T>(spec.name())?;
        let cell = &mut self.cells[index];
        cell.value = None;
        cell.dirty = true;
        self.forget_foreign_type(index);
        Ok(())
    }

    /// Whether the state currently has a value.
    ///
    /// # Errors
    ///
    /// When the function did not declare `spec` or declared it with another
    /// type.
    pub fn contains<T: Value>(&self, spec: &ValueSpec<T>) -> Result<bool, StateError> {
        let index = self.index_of::<T>(spec.name())?;
        Ok(self.cells[index].value.is_some())
    }

    /// The address whose state this is.
    #[must_use]
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The values written or removed in this batch, in declaration order:
    /// the spec and the final bytes (`None` when removed).
    pub(crate) fn mutations(&self) -> impl Iterator<Item = (&StateSpec, Option<&[u8]>)> + Clone {
        self.specs
            .iter()
            .zip(&self.cells)
            .filter(|(_, cell)| cell.dirty)
            .map(|(spec, cell)| (spec, cell.value.as_ref().map(SmallBytes::as_slice)))
    }

    /// A value written or removed no longer has the runtime's type.
    fn forget_foreign_type(&mut self, index: usize) {
        if !self.foreign_types.is_empty() {
            self.foreign_types.retain(|(i, _)| *i != index);
        }
    }

    #[inline(always)]
    fn index_of<T: Value>(&self, name: &str) -> Result<usize, StateError> {
        let Some(index) = self.specs.iter().position(|s| same_str(s.name(), name)) else {
            return Err(self.undeclared(name));
        };
        let declared = self.specs[index].type_name();
        let requested = T::type_name();
        if *declared != requested {
            return Err(self.wrong_type(index, name, requested));
        }
        Ok(index)
    }

    #[cold]
    #[inline(never)]
    fn undeclared(&self, name: &str) -> StateError {
        StateError::new(StateErrorKind::Undeclared {
            state: name.to_owned(),
            address: self.address.clone(),
        })
    }

    #[cold]
    #[inline(never)]
    fn wrong_type(&self, index: usize, name: &str, requested: TypeName) -> StateError {
        StateError::new(StateErrorKind::WrongType {
            state: name.to_owned(),
            declared: self.specs[index].type_name().clone(),
            requested,
            address: self.address.clone(),
        })
    }
}

/// Decodes bytes held as [`SmallBytes`]: short values from a borrowed
/// slice (the built-in codecs read rather than keep their bytes), longer
/// ones from the shared buffer, for types that keep them.
pub(crate) fn decode_small<T: Value>(bytes: &SmallBytes) -> Result<T, ValueError> {
    match bytes {
        SmallBytes::Inline { .. } => T::from_slice(bytes.as_slice()),
        SmallBytes::Shared(shared) => T::from_bytes(shared),
    }
}

/// String equality with a pointer shortcut: a spec declared as a constant
/// is usually the very string the function was registered with.
fn same_str(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (spec, cell) in self.specs.iter().zip(&self.cells) {
            map.entry(
                &spec.name(),
                &cell.value.as_ref().map(|v| v.as_slice().len()),
            );
        }
        map.finish()
    }
}

/// A state access that the function's declaration does not allow, or a
/// value that does not encode or decode. [`StateError::kind`] tells which.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StateError(Box<StateErrorKind>);

impl StateError {
    fn new(kind: StateErrorKind) -> Self {
        Self(Box::new(kind))
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &StateErrorKind {
        &self.0
    }
}

/// The kinds of [`StateError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateErrorKind {
    /// The function did not declare a state with this name.
    #[error(
        "state {state:?} is not declared by function {} (address {address}); add its ValueSpec to the function's spec (with #[function], list it in the `state = …` struct)",
        address.function_type()
    )]
    Undeclared {
        /// The state name used.
        state: String,
        /// The address being invoked.
        address: Address,
    },
    /// The spec used has another value type than the declared one.
    #[error(
        "state {state:?} of function {} (address {address}) is declared with type {declared}, but was accessed as {requested}",
        address.function_type()
    )]
    WrongType {
        /// The state name.
        state: String,
        /// The declared value type.
        declared: TypeName,
        /// The type it was accessed as.
        requested: TypeName,
        /// The address being invoked.
        address: Address,
    },
    /// The runtime holds a value of another type than the declared one.
    #[error(
        "state {state:?} of function {} (address {address}) holds a value of type {stored:?}, but is declared with type {declared}",
        address.function_type()
    )]
    StoredTypeMismatch {
        /// The state name.
        state: String,
        /// The declared value type.
        declared: TypeName,
        /// The typename the runtime sent.
        stored: String,
        /// The address being invoked.
        address: Address,
    },
    /// The value could not be encoded or decoded.
    #[error("state {state:?} of function {} (address {address})", address.function_type())]
    Value {
        /// The state name.
        state: String,
        /// The address being invoked.
        address: Address,
        /// The codec error.
        #[source]
        source: ValueError,
    },
}
