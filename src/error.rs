//! The errors a caller branches on. Inside the library, a module returns a typed error
//! (`thiserror`) where its caller decides something by the kind: the exit code, a fallback to
//! another engine, a message in the view. Where an error is only reported, `anyhow` carries it
//! with its context to the edge, which prints one line.

/// Arguments that cannot work together, found once the inputs are known (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Whether `e` is the user's way of asking (exit 2) rather than what was asked failing (exit
/// 1): arguments that conflict, or a `--layer` that matches nothing.
pub fn is_usage_error(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| c.is::<UsageError>() || c.is::<crate::model::NoMatch>())
}
