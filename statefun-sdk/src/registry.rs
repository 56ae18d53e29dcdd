//! [`Functions`]: the registry of function types a handler serves.

use std::collections::{BTreeMap, HashMap};
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
    /// Lookup by the two halves the wire carries, without allocating.
    by_namespace: HashMap<String, HashMap<String, Arc<FunctionSpec>>>,
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
        self.by_namespace
            .entry(type_name.namespace().to_owned())
            .or_default()
            .insert(type_name.name().to_owned(), Arc::clone(&spec));
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
        self.by_namespace
            .get(namespace)?
            .get(name)
            .map(|spec| &**spec)
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
