//! `#[remote_function]`: the message contract of a function served
//! elsewhere (another language, another service), for typed sends.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{DeriveInput, LitStr, Path, Token, Type};

use crate::args;
use crate::ctxt::Ctxt;
use crate::rules;

/// The arguments of `#[remote_function(...)]`.
struct Args {
    type_name: Option<LitStr>,
    handles: Option<Vec<Type>>,
    krate: Path,
}

impl Args {
    fn parse_one(&mut self, cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path.is_ident("typename") {
            args::type_name(cx, meta, &mut self.type_name, true)?;
        } else if meta.path.is_ident("handles") {
            let content;
            syn::parenthesized!(content in meta.input);
            let types = Punctuated::<Type, Token![,]>::parse_terminated(&content)?;
            if self.handles.is_some() {
                cx.error_spanned_by(
                    &meta.path,
                    "duplicate `handles`; list every message type in one `handles(...)`",
                );
            }
            if types.is_empty() {
                cx.error_spanned_by(
                    &meta.path,
                    "`handles()` is empty: list the message types the function handles, such as `handles(Greet, i64)`",
                );
            }
            let mut listed: Vec<Type> = Vec::new();
            for ty in types {
                let key = ty.to_token_stream().to_string();
                if listed
                    .iter()
                    .any(|t| t.to_token_stream().to_string() == key)
                {
                    cx.error_spanned_by(&ty, format!("`{key}` is listed twice in `handles`"));
                } else {
                    listed.push(ty);
                }
            }
            self.handles.get_or_insert_with(Vec::new).extend(listed);
        } else if meta.path.is_ident("crate") {
            let lit: LitStr = meta.value()?.parse()?;
            self.krate = lit.parse()?;
        } else {
            return Err(meta.error(
                "unknown `remote_function` argument: expected `typename`, `handles` or `crate`",
            ));
        }
        Ok(())
    }
}

/// The generated `F::address(id)`, for `#[function]` and
/// `#[remote_function]` alike.
pub(crate) fn address_fn(krate: &Path, self_ty: &impl ToTokens, type_name: &str) -> TokenStream {
    let doc = format!(
        "The typed address of instance `id` of `{type_name}`: it accepts only the messages \
         this function type handles (see `TypedAddress`)."
    );
    quote! {
        impl #self_ty {
            #[doc = #doc]
            #[must_use]
            // As visible as the type itself, which the macro cannot see.
            #[allow(unreachable_pub)]
            pub fn address(
                id: impl ::core::convert::Into<::std::string::String>,
            ) -> #krate::TypedAddress<Self> {
                #krate::TypedAddress::new(id)
            }
        }
    }
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let mut parsed = Args {
        type_name: None,
        handles: None,
        krate: syn::parse_quote!(::stateful_functions),
    };
    let parser = syn::meta::parser(|meta| parsed.parse_one(&cx, &meta));
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        cx.syn_error(e);
    }
    if parsed.type_name.is_none() {
        cx.syn_error(syn::Error::new(
            Span::call_site(),
            "a remote function needs its type: `#[remote_function(typename = \"<namespace>/<name>\", handles(...))]`",
        ));
    }
    if parsed.handles.is_none() {
        cx.syn_error(syn::Error::new(
            Span::call_site(),
            "a remote function needs the message types it handles: `#[remote_function(typename = \"...\", handles(Greet, i64))]`",
        ));
    }

    let original = item;
    let input: DeriveInput = match syn::parse2(original.clone()) {
        Ok(input) => input,
        Err(_) => {
            cx.syn_error(syn::Error::new(
                Span::call_site(),
                "#[remote_function] goes on a struct that stands for the function: `#[remote_function(typename = \"ns/name\", handles(Greet))] struct Greeter;`",
            ));
            let error = cx.check().err().map(|e| e.to_compile_error());
            return quote!(#error #original);
        }
    };
    let generic = !input.generics.params.is_empty();
    if generic {
        cx.error_spanned_by(&input.generics, "a remote function type cannot be generic");
    }

    let error = cx.check().err().map(|e| e.to_compile_error());
    let krate = &parsed.krate;
    let ident = &input.ident;
    let type_name = parsed
        .type_name
        .as_ref()
        .filter(|lit| rules::type_name_problem(&lit.value(), true).is_none());
    let (Some(type_name), false) = (type_name, generic) else {
        // Nothing sound to address: the item alone, so that the errors
        // above are the only ones.
        return quote!(#error #original);
    };
    let handles = parsed.handles.iter().flatten().map(|ty| {
        quote_spanned! {ty.span()=>
            impl #krate::Handles<#ty> for #ident {}
            const _: () = #krate::__private::assert_value::<#ty>();
        }
    });
    let address = address_fn(krate, ident, &type_name.value());

    quote! {
        #error
        #original

        const _: () = {
            impl #krate::Addressable for #ident {
                fn function_type() -> #krate::TypeName {
                    #krate::TypeName::from_static(#type_name)
                }
            }

            #(#handles)*
            #address
        };
    }
}
