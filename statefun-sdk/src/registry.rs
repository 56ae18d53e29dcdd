//! [`Functions`]: the registry of function types a handler serves.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::{FunctionSpec, SpecError, TypeName};

/// The function types an application serves.
///
/// Register them explicitly with [`Functions::register`] /
/// [`Functions::with`], or collect every function declared with
/// `#[function]` with `Functions::auto_registered` (feature `macros`); the
/// two mix freely. A function type may be registered once: a second
/// registration is an error naming both origins.
///
/// ```
/// # use stateful_functions::{async_trait, Context, FunctionError, Message, StatefulFunction};
/// use stateful_functions::{FunctionSpec, Functions, TypeName};
/// # struct Noop;
/// # #[async_trait]
/// # impl StatefulFunction for Noop {
/// #     async fn invoke(&self, _: &mut Context, _: Message) -> Result<(), FunctionError> { Ok(()) }
/// # }
///
/// let greeter = TypeName::from_static("example/greeter");
/// let mut functions = Functions::new();
/// functions.register(FunctionSpec::builder(greeter.clone()).build(Noop)?)?;
/// assert!(functions.register(FunctionSpec::builder(greeter.clone()).build(Noop)?).is_err());
/// assert_eq!(functions.type_names().collect::<Vec<_>>(), [&greeter]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default, Clone)]
pub struct Functions {
    /// Sorted by [`key`], built from the two halves the wire carries, for a
    /// binary search that neither hashes nor allocates.
    index: Vec<Arc<FunctionSpec>>,
    /// Listing in type-name order, with where each came from.
    sorted: BTreeMap<TypeName, (Arc<FunctionSpec>, Origin)>,
}

/// Where a registration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// Registered by a call to [`Functions::register`] or [`Functions::with`].
    Explicit,
    /// Declared with `#[function]` at this place in the source.
    Declared(Location),
}

/// A place in the source code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// The file, as `file!()` gives it.
    pub file: &'static str,
    /// The line.
    pub line: u32,
    /// The module path.
    pub module: &'static str,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Explicit => f.write_str("an explicit registration"),
            Self::Declared(l) => write!(f, "#[function] at {}:{} ({})", l.file, l.line, l.module),
        }
    }
}

impl Functions {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a function type.
    ///
    /// # Errors
    ///
    /// When a function of the same type is registered already.
    pub fn register(&mut self, spec: FunctionSpec) -> Result<(), RegistryError> {
        self.register_from(spec, Origin::Explicit)
    }

    fn register_from(&mut self, spec: FunctionSpec, origin: Origin) -> Result<(), RegistryError> {
        let type_name = spec.type_name().clone();
        if let Some((_, first)) = self.sorted.get(&type_name) {
            return Err(RegistryError::DuplicateFunction {
                function_type: type_name,
                first: *first,
                second: origin,
            });
        }
        let spec = Arc::new(spec);
        let position = self
            .index
            .binary_search_by(|s| {
                key(s).cmp(&key_of(
                    type_name.namespace().as_bytes(),
                    type_name.name().as_bytes(),
                ))
            })
            .unwrap_or_else(|insert_at| insert_at);
        self.index.insert(position, Arc::clone(&spec));
        self.sorted.insert(type_name, (spec, origin));
        Ok(())
    }

    /// Registers a function type, builder style.
    ///
    /// # Errors
    ///
    /// As [`Functions::register`].
    pub fn with(mut self, spec: FunctionSpec) -> Result<Self, RegistryError> {
        self.register(spec)?;
        Ok(self)
    }

    /// The function registered for `type_name`.
    #[must_use]
    pub fn get(&self, type_name: &TypeName) -> Option<&FunctionSpec> {
        self.lookup(type_name.namespace(), type_name.name())
    }

    /// The function registered for the type `namespace`/`name`.
    #[must_use]
    pub fn lookup(&self, namespace: &str, name: &str) -> Option<&FunctionSpec> {
        self.lookup_bytes(namespace.as_bytes(), name.as_bytes())
    }

    /// [`Functions::lookup`] on the raw bytes of the wire.
    pub(crate) fn lookup_bytes(&self, namespace: &[u8], name: &[u8]) -> Option<&FunctionSpec> {
        // A few types are scanned: most candidates differ in length, and
        // each string is compared once, where a binary search compares the
        // match twice.
        if self.index.len() <= LINEAR_LOOKUP {
            return self
                .index
                .iter()
                .find(|s| s.type_name().parts_bytes() == (namespace, name))
                .map(|s| &**s);
        }
        let wanted = key_of(namespace, name);
        self.index
            .binary_search_by(|s| key(s).cmp(&wanted))
            .ok()
            .map(|i| &*self.index[i])
    }

    /// The registered function types, in order.
    pub fn type_names(&self) -> impl Iterator<Item = &TypeName> {
        self.sorted.keys()
    }

    /// The registered functions, in type-name order.
    pub fn iter(&self) -> impl Iterator<Item = &FunctionSpec> {
        self.sorted.values().map(|(spec, _)| &**spec)
    }

    /// Where the function type was registered from.
    #[must_use]
    pub fn origin(&self, type_name: &TypeName) -> Option<Origin> {
        self.sorted.get(type_name).map(|(_, origin)| *origin)
    }

    /// How many function types are registered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether no function type is registered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}

#[cfg(feature = "macros")]
mod auto {
    use super::{Functions, Location, Origin, RegistryError};
    use crate::{FunctionSpec, SpecError};

    /// One `#[function]` declaration, collected with `inventory`.
    #[doc(hidden)]
    #[derive(Debug)]
    pub struct Registration {
        pub(super) type_name: &'static str,
        pub(super) make: fn() -> Result<FunctionSpec, SpecError>,
        pub(super) location: Location,
    }

    impl Registration {
        /// Used by the code `#[function]` generates; not a stable API.
        #[doc(hidden)]
        #[must_use]
        pub const fn new(
            type_name: &'static str,
            make: fn() -> Result<FunctionSpec, SpecError>,
            file: &'static str,
            line: u32,
            module: &'static str,
        ) -> Self {
            Self {
                type_name,
                make,
                location: Location { file, line, module },
            }
        }
    }

    inventory::collect!(Registration);

    /// A function type declared with `#[function]` somewhere in the binary.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub struct RegisteredFunction {
        /// The function type, as written in the attribute.
        pub type_name: &'static str,
        /// Where it is declared.
        pub location: Location,
    }

    /// Every function type declared with `#[function]` (and not opted out
    /// with `auto_register = false`) in the binary, in type-name order.
    ///
    /// Registration relies on `inventory`, which supports Linux, macOS,
    /// Windows, the BSDs, Android, iOS and WebAssembly; elsewhere this list
    /// is empty, so register explicitly there.
    #[must_use]
    pub fn registered_functions() -> Vec<RegisteredFunction> {
        let mut all: Vec<_> = inventory::iter::<Registration>
            .into_iter()
            .map(|r| RegisteredFunction {
                type_name: r.type_name,
                location: r.location,
            })
            .collect();
        all.sort();
        all
    }

    impl Functions {
        /// A registry of every function type declared with `#[function]`
        /// in the binary (see [`registered_functions`]).
        ///
        /// # Functions in a library
        ///
        /// With the functions in a library crate and the server in a
        /// binary, the binary must name the library: the linker leaves out
        /// a library nothing refers to, and its registrations with it. Call
        /// something of the library from `main` (a `pub fn functions()` of
        /// the library that returns `Functions::auto_registered()` is a good
        /// place), or write `use my_functions as _;` in the binary. When no
        /// `#[function]` at all made it into the binary this returns
        /// [`RegistryError::NoneRegistered`] rather than an empty registry
        /// that would answer every request with 404.
        ///
        /// # Errors
        ///
        /// When a declaration is invalid, two declarations share a
        /// function type (the error names both places), or no function is
        /// declared in the binary ([`RegistryError::NoneRegistered`]).
        pub fn auto_registered() -> Result<Self, RegistryError> {
            let mut functions = Self::new();
            functions.register_auto()?;
            if functions.is_empty() {
                return Err(RegistryError::NoneRegistered);
            }
            Ok(functions)
        }

        /// Adds every function type declared with `#[function]` to this
        /// registry.
        ///
        /// # Errors
        ///
        /// When a declaration is invalid, two declarations share a function
        /// type, or one of them is registered here already. Unlike
        /// [`Functions::auto_registered`], finding no declaration is not an
        /// error: the registry may hold explicit registrations.
        pub fn register_auto(&mut self) -> Result<(), RegistryError> {
            let mut registrations: Vec<&Registration> =
                inventory::iter::<Registration>.into_iter().collect();
            // inventory has no order; make errors and listings deterministic.
            registrations.sort_by_key(|r| (r.type_name, r.location));
            for registration in registrations {
                let origin = Origin::Declared(registration.location);
                let spec = (registration.make)()
                    .map_err(|source| RegistryError::InvalidSpec { origin, source })?;
                self.register_from(spec, origin)?;
            }
            Ok(())
        }
    }
}

#[cfg(feature = "macros")]
pub use auto::{RegisteredFunction, Registration, registered_functions};

/// Registries up to this size are searched linearly.
const LINEAR_LOOKUP: usize = 8;

/// The order of the lookup index: by length first, so that most probes
/// compare two integers rather than two strings, then by name (which tells
/// function types apart more often than the namespace), then namespace.
/// Only equality matters to a lookup; the order need not be readable.
type Key<'a> = (usize, usize, &'a [u8], &'a [u8]);

fn key_of<'a>(namespace: &'a [u8], name: &'a [u8]) -> Key<'a> {
    (name.len(), namespace.len(), name, namespace)
}

fn key(spec: &FunctionSpec) -> Key<'_> {
    let (namespace, name) = spec.type_name().parts_bytes();
    key_of(namespace, name)
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.sorted.values().map(|(spec, _)| spec))
            .finish()
    }
}

/// A registration the registry refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The function type is registered already.
    #[error("function type {function_type} is registered twice: by {first} and by {second}")]
    DuplicateFunction {
        /// The function type.
        function_type: TypeName,
        /// Where the first registration came from.
        first: Origin,
        /// Where the second came from.
        second: Origin,
    },
    /// A declared function's specification is invalid.
    #[error("invalid function declared by {origin}")]
    InvalidSpec {
        /// Where it is declared.
        origin: Origin,
        /// What is wrong.
        #[source]
        source: SpecError,
    },
    /// `Functions::auto_registered` found no `#[function]` in the binary.
    #[error(
        "no #[function] is registered in this binary. If the functions are declared in a \
         library crate, the binary probably never names it, so the linker dropped the library \
         and its registrations: call something of the library from the binary (e.g. a \
         `pub fn functions()` of the library that returns `Functions::auto_registered()`), or \
         add `use my_functions_crate as _;` to the binary. On a platform `inventory` does not \
         support, register the functions explicitly with `Functions::register`"
    )]
    NoneRegistered,
}
