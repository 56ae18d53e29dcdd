//! [`TypeName`]: the `<namespace>/<name>` identity of function, value and
//! egress types.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

/// The `<namespace>/<name>` identity of a function type, a value type or an
/// egress.
///
/// The namespace is everything before the **last** `/` (so it may itself
/// contain `/`, as in `type.googleapis.com/...` names), the name everything
/// after it; neither may be empty. Cloning is cheap: a `TypeName` is either a
/// `&'static str` or a shared, reference-counted string.
///
/// The StateFun runtime's own parser, used for state types, endpoint
/// `functions` and ingress targets, requires exactly one `/`; the SDK checks
/// that rule where it applies (see [`ValueSpec`](crate::ValueSpec)).
///
/// ```
/// use stateful_functions::TypeName;
///
/// // Checked at compile time when used in a constant.
/// const CART: TypeName = TypeName::from_static("com.example/cart");
/// assert_eq!(CART.namespace(), "com.example");
/// assert_eq!(CART.name(), "cart");
///
/// let parsed: TypeName = "com.example/cart".parse()?;
/// assert_eq!(parsed, CART);
/// assert!("no-slash".parse::<TypeName>().is_err());
/// # Ok::<(), stateful_functions::TypeNameError>(())
/// ```
#[derive(Clone)]
pub struct TypeName {
    full: Repr,
    /// Byte index of the last `/` in `full`.
    split: usize,
}

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl TypeName {
    /// Makes a type name from a string literal, checked when evaluated.
    ///
    /// In a `const` item the check runs at compile time, so a malformed
    /// literal is a compile error.
    ///
    /// # Panics
    ///
    /// When `full` has no `/`, or the namespace or name is empty.
    ///
    /// ```
    /// use stateful_functions::TypeName;
    ///
    /// const GREETER: TypeName = TypeName::from_static("example/greeter");
    /// assert_eq!(GREETER.as_str(), "example/greeter");
    /// ```
    #[must_use]
    pub const fn from_static(full: &'static str) -> Self {
        match split_index(full) {
            Ok(split) => Self {
                full: Repr::Static(full),
                split,
            },
            Err(TypeNameErrorKind::MissingSlash) => {
                panic!("a type name has the form <namespace>/<name>; this one has no `/`")
            }
            Err(TypeNameErrorKind::EmptyNamespace) => {
                panic!(
                    "a type name has the form <namespace>/<name>; this one has an empty namespace"
                )
            }
            Err(
                TypeNameErrorKind::EmptyName
                | TypeNameErrorKind::SlashInName
                | TypeNameErrorKind::NotSingleSlash,
            ) => {
                panic!("a type name has the form <namespace>/<name>; this one has an empty name")
            }
        }
    }

    /// Makes a type name from its two halves.
    ///
    /// # Errors
    ///
    /// When either half is empty, or `name` contains a `/` (the split is at
    /// the last `/`, so such a name could not be parsed back).
    ///
    /// ```
    /// use stateful_functions::TypeName;
    ///
    /// let t = TypeName::new("com.example", "inventory")?;
    /// assert_eq!(t.to_string(), "com.example/inventory");
    /// # Ok::<(), stateful_functions::TypeNameError>(())
    /// ```
    pub fn new(namespace: &str, name: &str) -> Result<Self, TypeNameError> {
        Self::check_parts(namespace, name)?;
        let mut full = String::with_capacity(namespace.len() + 1 + name.len());
        full.push_str(namespace);
        full.push('/');
        full.push_str(name);
        Ok(Self {
            full: Repr::Shared(full.into()),
            split: namespace.len(),
        })
    }

    /// Checks that `namespace` and `name` make a type name, without
    /// allocating unless they do not.
    pub(crate) fn check_parts(namespace: &str, name: &str) -> Result<(), TypeNameError> {
        let kind = if namespace.is_empty() {
            TypeNameErrorKind::EmptyNamespace
        } else if name.is_empty() {
            TypeNameErrorKind::EmptyName
        } else if name.contains('/') {
            TypeNameErrorKind::SlashInName
        } else {
            return Ok(());
        };
        Err(TypeNameError {
            input: format!("{namespace}/{name}"),
            kind,
        })
    }

    /// The namespace: everything before the last `/`.
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.as_str()[..self.split]
    }

    /// The name: everything after the last `/`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.as_str()[self.split + 1..]
    }

    /// The namespace and the name as bytes, without the character
    /// boundary checks of [`TypeName::namespace`] and [`TypeName::name`].
    pub(crate) fn parts_bytes(&self) -> (&[u8], &[u8]) {
        let bytes = self.as_str().as_bytes();
        (
            bytes.get(..self.split).unwrap_or_default(),
            bytes.get(self.split + 1..).unwrap_or_default(),
        )
    }

    /// The whole `<namespace>/<name>` string.
    #[must_use]
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.full {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
        }
    }

    /// Whether this name is `namespace` and `name`, compared without
    /// allocating.
    ///
    /// ```
    /// use stateful_functions::TypeName;
    ///
    /// let t = TypeName::from_static("a/b");
    /// assert!(t.is(&"a", &"b"));
    /// assert!(!t.is(&"a", &"c"));
    /// ```
    #[must_use]
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace() == namespace && self.name() == name
    }

    /// This name, when the runtime's own parser accepts it (exactly one
    /// `/`), for places that need that.
    pub(crate) fn single_slash(self) -> Result<Self, TypeNameError> {
        if self.has_single_slash() {
            Ok(self)
        } else {
            Err(TypeNameError {
                input: self.as_str().to_owned(),
                kind: TypeNameErrorKind::NotSingleSlash,
            })
        }
    }

    /// Whether the runtime's own type-name parser accepts this name: exactly
    /// one `/`. The runtime requires it for state types, endpoint `functions`
    /// and ingress `targets`.
    ///
    /// ```
    /// use stateful_functions::TypeName;
    ///
    /// assert!(TypeName::from_static("com.example/cart").has_single_slash());
    /// assert!(!TypeName::from_static("type.googleapis.com/a/b.C").has_single_slash());
    /// ```
    #[must_use]
    pub fn has_single_slash(&self) -> bool {
        !self.namespace().contains('/')
    }
}

/// `a/b, c/d`, or `empty` for none: for error messages.
pub(crate) fn join(types: &[TypeName], empty: &str) -> String {
    if types.is_empty() {
        return empty.to_owned();
    }
    types
        .iter()
        .map(TypeName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

const fn split_index(s: &str) -> Result<usize, TypeNameErrorKind> {
    let bytes = s.as_bytes();
    let mut i = bytes.len();
    while i > 0 {
        i -= 1;
        if bytes[i] == b'/' {
            if i == 0 {
                return Err(TypeNameErrorKind::EmptyNamespace);
            }
            if i + 1 == bytes.len() {
                return Err(TypeNameErrorKind::EmptyName);
            }
            return Ok(i);
        }
    }
    Err(TypeNameErrorKind::MissingSlash)
}

impl FromStr for TypeName {
    type Err = TypeNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match split_index(s) {
            Ok(split) => Ok(Self {
                full: Repr::Shared(s.into()),
                split,
            }),
            Err(kind) => Err(TypeNameError {
                input: s.to_owned(),
                kind,
            }),
        }
    }
}

impl TryFrom<&str> for TypeName {
    type Error = TypeNameError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<String> for TypeName {
    type Error = TypeNameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match split_index(&value) {
            Ok(split) => Ok(Self {
                full: Repr::Shared(value.into()),
                split,
            }),
            Err(kind) => Err(TypeNameError { input: value, kind }),
        }
    }
}

impl PartialEq for TypeName {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.as_str(), other.as_str());
        // Constants usually share one literal: skip the byte comparison.
        std::ptr::eq(a, b) || a == b
    }
}

impl Eq for TypeName {}

impl PartialOrd for TypeName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TypeName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for TypeName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TypeName({:?})", self.as_str())
    }
}

/// A string that is not a valid [`TypeName`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeNameError {
    input: String,
    kind: TypeNameErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeNameErrorKind {
    MissingSlash,
    EmptyNamespace,
    EmptyName,
    SlashInName,
    NotSingleSlash,
}

impl TypeNameError {
    /// The rejected input.
    #[must_use]
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for TypeNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.kind {
            TypeNameErrorKind::MissingSlash => "it has no `/`",
            TypeNameErrorKind::EmptyNamespace => "the namespace is empty",
            TypeNameErrorKind::EmptyName => "the name is empty",
            TypeNameErrorKind::SlashInName => "the name contains `/`",
            TypeNameErrorKind::NotSingleSlash => {
                "it has more than one `/`, which the runtime does not accept here"
            }
        };
        write!(
            f,
            "invalid type name {:?}: expected <namespace>/<name>, but {why}",
            self.input
        )
    }
}

impl std::error::Error for TypeNameError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_at_the_last_slash() {
        let t: TypeName = "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"
            .parse()
            .unwrap();
        assert_eq!(t.namespace(), "type.googleapis.com");
        assert_eq!(t.name(), "io.statefun.sdk.egress.KafkaProducerRecord");
        let nested: TypeName = "a/b/c".parse().unwrap();
        assert_eq!(nested.namespace(), "a/b");
        assert_eq!(nested.name(), "c");
        assert!(!nested.has_single_slash());
    }

    #[test]
    fn rejects_malformed_names_with_the_reason() {
        for (input, reason) in [
            ("", "no `/`"),
            ("cart", "no `/`"),
            ("/cart", "namespace is empty"),
            ("ns/", "name is empty"),
            ("a/b/", "name is empty"),
        ] {
            let err = input.parse::<TypeName>().unwrap_err();
            assert_eq!(err.input(), input);
            assert!(err.to_string().contains(reason), "{input:?}: {err}");
        }
        assert!(TypeName::new("", "x").is_err());
        assert!(TypeName::new("x", "").is_err());
        let err = TypeName::new("x", "a/b").unwrap_err();
        assert!(err.to_string().contains("name contains `/`"), "{err}");
    }

    #[test]
    fn static_and_shared_names_compare_equal() {
        const A: TypeName = TypeName::from_static("ns/a");
        let b = TypeName::new("ns", "a").unwrap();
        assert_eq!(A, b);
        assert_eq!(A.cmp(&b), Ordering::Equal);
        assert_eq!(format!("{A:?}"), "TypeName(\"ns/a\")");
    }

    proptest! {
        #[test]
        fn parse_display_round_trip(ns in "[^/]{1,12}(/[^/]{1,8}){0,2}", name in "[^/]{1,16}") {
            let text = format!("{ns}/{name}");
            let parsed: TypeName = text.parse().unwrap();
            prop_assert_eq!(parsed.namespace(), ns.as_str());
            prop_assert_eq!(parsed.name(), name.as_str());
            prop_assert_eq!(parsed.to_string(), text);
            let built = TypeName::new(&ns, &name).unwrap();
            prop_assert_eq!(built, parsed);
        }

        #[test]
        fn parsing_arbitrary_strings_never_panics(s in any::<String>()) {
            if let Ok(t) = s.parse::<TypeName>() {
                prop_assert_eq!(t.as_str(), s.as_str());
                prop_assert!(!t.namespace().is_empty() && !t.name().is_empty());
            }
        }
    }
}
