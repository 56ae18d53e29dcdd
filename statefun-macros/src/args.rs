//! Arguments that several attributes share.

use syn::LitStr;
use syn::meta::ParseNestedMeta;

use crate::ctxt::Ctxt;
use crate::rules;

/// Reads a `typename = "<namespace>/<name>"` argument into `slot`,
/// reporting a second one and a malformed type name (see
/// [`rules::type_name_problem`]) without stopping, so every error of the
/// attribute is shown at once.
pub(crate) fn type_name(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    slot: &mut Option<LitStr>,
    single_slash: bool,
) -> syn::Result<()> {
    let lit: LitStr = meta.value()?.parse()?;
    if slot.is_some() {
        cx.error_spanned_by(&lit, "duplicate `typename`");
    } else if let Some(problem) = rules::type_name_problem(&lit.value(), single_slash) {
        cx.error_spanned_by(&lit, problem);
    }
    *slot = Some(lit);
    Ok(())
}
