//! [`ErrorChain`]: an error and its sources, shown on one line.

use std::error::Error;
use std::fmt;

/// Shows an error followed by each of its [sources](Error::source), on one
/// line: `error: cause: cause of the cause`. The server answers a failed
/// request with this line, and the harness reports a failed call with it;
/// use it to log an error without losing what caused it.
///
/// ```
/// use std::error::Error;
/// use std::fmt;
/// use stateful_functions::ErrorChain;
///
/// #[derive(Debug)]
/// struct ReadCount(std::num::ParseIntError);
///
/// impl fmt::Display for ReadCount {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.write_str("cannot read the count")
///     }
/// }
///
/// impl Error for ReadCount {
///     fn source(&self) -> Option<&(dyn Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// let error = ReadCount("x".parse::<i64>().unwrap_err());
/// assert_eq!(
///     ErrorChain::new(&error).to_string(),
///     "cannot read the count: invalid digit found in string"
/// );
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(&'a (dyn Error + 'static));

impl<'a> ErrorChain<'a> {
    /// `error` and its sources.
    #[must_use]
    pub fn new(error: &'a (dyn Error + 'static)) -> Self {
        Self(error)
    }
}

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0, f)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
