//! [`Functions`]: the registry of function types a handler serves.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::{FunctionSpec, TypeName};

/// The function types an application serves, registered explicitly.
///
/// A function type may be registered once; a second registration is an
/// error naming the type.
///
/// ```
/// # use statefun_sdk::{async_trait, Context, FunctionError, Message, StatefulFunction};
/// use statefun_sdk::{FunctionSpec, Functions, TypeName};
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
    /// Sorted by (namespace, name), the two halves the wire carries, for a
    /// binary search that neither hashes nor allocates.
    index: Vec<Arc<FunctionSpec>>,
    /// Listing in type-name order.
    sorted: BTreeMap<TypeName, Arc<FunctionSpec>>,
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
        let type_name = spec.type_name().clone();
        if self.sorted.contains_key(&type_name) {
            return Err(RegistryError::DuplicateFunction {
                function_type: type_name,
            });
        }
        let spec = Arc::new(spec);
        let position = self
            .index
            .binary_search_by(|s| key(s).cmp(&(type_name.namespace(), type_name.name())))
            .unwrap_or_else(|insert_at| insert_at);
        self.index.insert(position, Arc::clone(&spec));
        self.sorted.insert(type_name, spec);
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

    /// [`Functions::lookup`] on the raw bytes of the wire; UTF-8 orders
    /// like its bytes, so the index order holds.
    pub(crate) fn lookup_bytes(&self, namespace: &[u8], name: &[u8]) -> Option<&FunctionSpec> {
        self.index
            .binary_search_by(|s| {
                let (ns, n) = key(s);
                (ns.as_bytes(), n.as_bytes()).cmp(&(namespace, name))
            })
            .ok()
            .map(|i| &*self.index[i])
    }

    /// The registered function types, in order.
    pub fn type_names(&self) -> impl Iterator<Item = &TypeName> {
        self.sorted.keys()
    }

    /// The registered functions, in type-name order.
    pub fn iter(&self) -> impl Iterator<Item = &FunctionSpec> {
        self.sorted.values().map(|spec| &**spec)
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

fn key(spec: &FunctionSpec) -> (&str, &str) {
    (spec.type_name().namespace(), spec.type_name().name())
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.sorted.values()).finish()
    }
}

/// A registration the registry refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The function type is registered already.
    #[error("function type {function_type} is registered twice")]
    DuplicateFunction {
        /// The function type.
        function_type: TypeName,
    },
}
