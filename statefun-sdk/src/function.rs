//! Functions: the [`StatefulFunction`] trait, [`FunctionSpec`] (a function
//! type with its declared state) and [`FunctionError`].

use std::fmt;
use std::sync::Arc;

use crate::State;
use crate::state::{SpecError, StateSpec};
use crate::{Context, Message, TypeName, Value, ValueSpec};

/// A stateful function: invoked once per message, in order, for one address
/// at a time.
///
/// Implement it on any type (with [`async_trait`]) and register it with a
/// [`FunctionSpec`]:
///
/// ```
/// use stateful_functions::{
///     async_trait, Context, FunctionError, FunctionSpec, Message, StatefulFunction, TypeName,
///     ValueSpec,
/// };
///
/// const SEEN: ValueSpec<i32> = ValueSpec::named("seen");
///
/// struct Greeter;
///
/// #[async_trait]
/// impl StatefulFunction for Greeter {
///     async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
///         let name = message.decode::<String>()?;
///         let seen = ctx.storage().get(&SEEN)?.unwrap_or(0) + 1;
///         ctx.storage().set(&SEEN, &seen)?;
///         if seen > 1_000 {
///             return Err(FunctionError::msg(format!("{name} has been greeted enough")));
///         }
///         Ok(())
///     }
/// }
///
/// let spec = FunctionSpec::builder(TypeName::from_static("example/greeter"))
///     .with_state(&SEEN)
///     .build(Greeter)?;
/// assert_eq!(spec.states()[0].name(), "seen");
/// # Ok::<(), stateful_functions::SpecError>(())
/// ```
///
/// [`async_trait`]: crate::async_trait
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a StateFun function",
    note = "implement `stateful_functions::StatefulFunction` for it with `#[stateful_functions::async_trait]`"
)]
#[async_trait::async_trait]
pub trait StatefulFunction: Send + Sync + 'static {
    /// Handles one message. Side effects go through `ctx`; an error aborts
    /// the whole batch (the runtime retries it).
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError>;
}

/// A function with its type name and state declared on the type: what
/// `#[function]` implements. [`FunctionType::spec`] turns an instance into
/// its [`FunctionSpec`].
///
/// ```
/// use stateful_functions::{
///     async_trait, Context, FunctionError, FunctionType, Functions, Message, StatefulFunction,
///     TypeName,
/// };
///
/// struct Echo;
///
/// #[async_trait]
/// impl StatefulFunction for Echo {
///     async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
///         if let Some(caller) = ctx.caller().cloned() {
///             ctx.send(caller, &message.decode::<String>()?)?;
///         }
///         Ok(())
///     }
/// }
///
/// impl FunctionType for Echo {
///     const TYPE_NAME: TypeName = TypeName::from_static("example/echo");
///     type State = ();
/// }
///
/// let functions = Functions::new().with(Echo.spec()?)?;
/// assert_eq!(functions.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait FunctionType: StatefulFunction + Sized {
    /// The function type.
    const TYPE_NAME: TypeName;

    /// The state the function declares; `()` for none.
    type State: State;

    /// The function's declaration, with `self` handling its messages.
    ///
    /// # Errors
    ///
    /// As [`FunctionSpecBuilder::build`].
    fn spec(self) -> Result<FunctionSpec, SpecError> {
        FunctionSpec::builder(Self::TYPE_NAME)
            .with_states::<Self::State>()
            .build(self)
    }
}

/// The error a function returns: any error converts into it with `?`.
///
/// Like `anyhow::Error`, it does not itself implement
/// [`std::error::Error`], which keeps the blanket conversion coherent.
///
/// ```
/// use stateful_functions::FunctionError;
///
/// fn parse(input: &str) -> Result<u32, FunctionError> {
///     let n: u32 = input.parse()?; // a ParseIntError converts
///     if n == 0 {
///         return Err(FunctionError::msg("zero is not allowed"));
///     }
///     Ok(n)
/// }
/// assert!(parse("x").is_err());
/// assert_eq!(parse("0").unwrap_err().to_string(), "zero is not allowed");
/// ```
pub struct FunctionError {
    inner: crate::BoxError,
}

impl FunctionError {
    /// An error with a message and no cause.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self {
            inner: message.to_string().into(),
        }
    }

    /// The underlying error.
    #[must_use]
    pub fn into_inner(self) -> crate::BoxError {
        self.inner
    }
}

impl<E: Into<crate::BoxError>> From<E> for FunctionError {
    fn from(error: E) -> Self {
        Self {
            inner: error.into(),
        }
    }
}

impl fmt::Debug for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

/// A function type: its typename, the state it declares and the function
/// itself.
#[derive(Clone)]
pub struct FunctionSpec {
    type_name: TypeName,
    states: Arc<[StateSpec]>,
    function: Arc<dyn StatefulFunction>,
}

impl FunctionSpec {
    /// Starts declaring the function type `type_name`.
    pub fn builder(type_name: TypeName) -> FunctionSpecBuilder {
        FunctionSpecBuilder {
            type_name,
            states: Vec::new(),
            error: None,
        }
    }

    /// The function type.
    #[must_use]
    pub fn type_name(&self) -> &TypeName {
        &self.type_name
    }

    /// The declared states, in declaration order.
    #[must_use]
    pub fn states(&self) -> &[StateSpec] {
        &self.states
    }

    pub(crate) fn shared_states(&self) -> Arc<[StateSpec]> {
        Arc::clone(&self.states)
    }

    pub(crate) fn function(&self) -> &dyn StatefulFunction {
        &*self.function
    }
}

impl fmt::Debug for FunctionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionSpec")
            .field("type_name", &self.type_name)
            .field("states", &self.states)
            .finish_non_exhaustive()
    }
}

/// Builds a [`FunctionSpec`]; see [`FunctionSpec::builder`].
#[derive(Debug)]
#[must_use]
pub struct FunctionSpecBuilder {
    type_name: TypeName,
    states: Vec<StateSpec>,
    error: Option<SpecError>,
}

impl FunctionSpecBuilder {
    /// Declares a state value of the function.
    pub fn with_state<T: Value>(mut self, spec: &ValueSpec<T>) -> Self {
        if self.error.is_some() {
            return self;
        }
        match spec.to_state_spec() {
            Ok(state) if self.states.iter().any(|s| s.name() == state.name()) => {
                self.error = Some(SpecError::DuplicateState {
                    function_type: self.type_name.clone(),
                    name: state.name().to_owned(),
                });
            }
            Ok(state) => self.states.push(state),
            Err(source) => {
                self.error = Some(SpecError::InFunction {
                    function_type: self.type_name.clone(),
                    source: Box::new(source),
                });
            }
        }
        self
    }

    /// Declares every state value of a [`State`] set.
    pub fn with_states<S: State>(self) -> Self {
        S::declare(self)
    }

    /// Finishes the declaration with the function that handles messages.
    ///
    /// # Errors
    ///
    /// The first problem found: an invalid state declaration, a state
    /// declared twice, or a function type with more than one `/` (the
    /// runtime's module configuration cannot bind those).
    pub fn build(self, function: impl StatefulFunction) -> Result<FunctionSpec, SpecError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if !self.type_name.has_single_slash() {
            return Err(SpecError::FunctionTypeNotSingleSlash {
                function_type: self.type_name,
            });
        }
        Ok(FunctionSpec {
            type_name: self.type_name,
            states: self.states.into(),
            function: Arc::new(function),
        })
    }
}
