//! `#[function]`: a function type on an impl block, with one `#[handler]`
//! method per message type.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, LitBool, LitStr, Path, ReturnType, Type};

use crate::args;
use crate::ctxt::Ctxt;
use crate::rules;

/// The arguments of `#[function(...)]`.
struct Args {
    type_name: Option<LitStr>,
    state: Option<Type>,
    auto_register: bool,
    krate: Path,
}

impl Args {
    fn parse_one(&mut self, cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path.is_ident("typename") {
            args::type_name(cx, meta, &mut self.type_name, true)?;
        } else if meta.path.is_ident("state") {
            let ty: Type = meta.value()?.parse()?;
            if self.state.is_some() {
                cx.error_spanned_by(&ty, "duplicate `state`");
            }
            self.state = Some(ty);
        } else if meta.path.is_ident("auto_register") {
            let lit: LitBool = meta.value()?.parse()?;
            self.auto_register = lit.value;
        } else if meta.path.is_ident("crate") {
            let lit: LitStr = meta.value()?.parse()?;
            self.krate = lit.parse()?;
        } else {
            return Err(meta.error(
                "unknown `function` argument: expected `typename`, `state`, `auto_register` or `crate`",
            ));
        }
        Ok(())
    }
}

/// One `#[handler]` method.
struct Handler {
    method: syn::Ident,
    message: Type,
}

fn is_handler_attr(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("handler")
}

/// Checks a handler's signature: `async fn name(&self, ctx: &mut Context,
/// message: T) -> Result<(), E>`.
fn parse_handler(cx: &Ctxt, method: &ImplItemFn) -> Option<Handler> {
    let sig = &method.sig;
    let mut ok = true;
    for attr in method.attrs.iter().filter(|a| is_handler_attr(a)) {
        if !matches!(attr.meta, syn::Meta::Path(_)) {
            cx.error_spanned_by(attr, "`#[handler]` takes no arguments");
            ok = false;
        }
    }
    if sig.asyncness.is_none() {
        cx.error_spanned_by(sig.fn_token, "a handler must be an `async fn`");
        ok = false;
    }
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(&sig.generics, "a handler cannot be generic");
        ok = false;
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
        Some(FnArg::Receiver(r)) => {
            cx.error_spanned_by(
                r,
                "a handler takes `&self` (a function instance serves many addresses at once)",
            );
            ok = false;
        }
        _ => {
            cx.error_spanned_by(
                &sig.ident,
                "a handler takes `&self, ctx: &mut Context, message: T`",
            );
            return None;
        }
    }
    match inputs.next() {
        Some(FnArg::Typed(pat)) => {
            let is_mut_ref_to_context = match &*pat.ty {
                Type::Reference(r) => {
                    r.mutability.is_some()
                        && matches!(&*r.elem, Type::Path(p)
                            if p.path.segments.last().is_some_and(|s| s.ident == "Context"))
                }
                _ => false,
            };
            if !is_mut_ref_to_context {
                cx.error_spanned_by(
                    &pat.ty,
                    "the second parameter of a handler is `&mut Context`",
                );
                ok = false;
            }
        }
        _ => {
            cx.error_spanned_by(
                &sig.ident,
                "a handler takes `&self, ctx: &mut Context, message: T`",
            );
            return None;
        }
    }
    let message = match inputs.next() {
        Some(FnArg::Typed(pat)) => {
            if matches!(&*pat.ty, Type::Reference(_)) {
                cx.error_spanned_by(
                    &pat.ty,
                    "the message parameter takes the decoded value by value, not a reference",
                );
                ok = false;
            }
            (*pat.ty).clone()
        }
        _ => {
            cx.error_spanned_by(
                &sig.ident,
                "a handler takes a third parameter: the message, of a type implementing `stateful_functions::Value`",
            );
            return None;
        }
    };
    if let Some(extra) = inputs.next() {
        cx.error_spanned_by(
            extra,
            "a handler takes exactly `&self, ctx: &mut Context, message: T`",
        );
        ok = false;
    }
    if let ReturnType::Default = sig.output {
        cx.error_spanned_by(
            &sig.ident,
            "a handler returns `Result<(), FunctionError>` (or `Result<(), E>` for any error `E`)",
        );
        ok = false;
    }
    ok.then(|| Handler {
        method: sig.ident.clone(),
        message,
    })
}

/// Whether the impl block defines its own `address`, which then replaces
/// the generated one.
fn defines_address(item: &ItemImpl) -> bool {
    item.items.iter().any(|i| match i {
        ImplItem::Fn(f) => f.sig.ident == "address",
        ImplItem::Const(c) => c.ident == "address",
        _ => false,
    })
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let mut parsed = Args {
        type_name: None,
        state: None,
        auto_register: true,
        krate: syn::parse_quote!(::stateful_functions),
    };
    let parser = syn::meta::parser(|meta| parsed.parse_one(&cx, &meta));
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        cx.syn_error(e);
    }
    if parsed.type_name.is_none() {
        cx.syn_error(syn::Error::new(
            Span::call_site(),
            "a function needs its type: `#[function(typename = \"<namespace>/<name>\")]`",
        ));
    }

    let original = item;
    let mut item: ItemImpl = match syn::parse2(original.clone()) {
        Ok(item) => item,
        Err(_) => {
            // Not an impl block: report it and give the item back untouched.
            cx.syn_error(syn::Error::new(
                Span::call_site(),
                "#[function] goes on an impl block: `#[function(typename = \"ns/name\")] impl MyFunction { #[handler] async fn ... }`",
            ));
            let error = cx.check().err().map(|e| e.to_compile_error());
            return quote!(#error #original);
        }
    };
    if let Some((_, path, _)) = &item.trait_ {
        cx.error_spanned_by(
            path,
            "#[function] goes on an inherent impl block, not a trait impl",
        );
    }
    if !item.generics.params.is_empty() {
        cx.error_spanned_by(&item.generics, "a function type cannot be generic");
    }

    let mut handlers = Vec::new();
    let mut declared_handlers = 0;
    for impl_item in &mut item.items {
        if let ImplItem::Fn(method) = impl_item {
            if method.attrs.iter().any(is_handler_attr) {
                declared_handlers += 1;
                if let Some(handler) = parse_handler(&cx, method) {
                    handlers.push(handler);
                }
                method.attrs.retain(|a| !is_handler_attr(a));
            }
        }
    }
    if declared_handlers == 0 {
        cx.error_spanned_by(
            &item.self_ty,
            "a function needs at least one `#[handler] async fn` method, one per message type",
        );
    }
    for (i, handler) in handlers.iter().enumerate() {
        let ty = handler.message.to_token_stream().to_string();
        if let Some(first) = handlers[..i]
            .iter()
            .find(|h| h.message.to_token_stream().to_string() == ty)
        {
            cx.error_spanned_by(
                &handler.message,
                format!(
                    "message type `{ty}` is already handled by `{}`; each message type has one handler",
                    first.method
                ),
            );
        }
    }

    let krate = &parsed.krate;
    let self_ty = &item.self_ty;
    let error = cx.check().err().map(|e| e.to_compile_error());
    let type_name = parsed
        .type_name
        .as_ref()
        .filter(|lit| rules::type_name_problem(&lit.value(), true).is_none())
        .map_or_else(|| quote!("invalid/invalid"), ToTokens::to_token_stream);
    let state = parsed
        .state
        .as_ref()
        .map_or_else(|| quote!(()), |ty| quote_spanned!(ty.span()=> #ty));

    // Each handler's message type is matched, decoded and handed to it.
    let dispatch = handlers.iter().map(|h| {
        let Handler { method, message } = h;
        let run = quote_spanned! {method.span()=>
            #self_ty::#method(self, ctx, value)
                .await
                .map_err(#krate::__private::into_function_error)
        };
        quote_spanned! {message.span()=>
            if message.is::<#message>() {
                let value = #krate::__private::decode_checked::<#message>(&message)
                    .map_err(#krate::__private::into_function_error)?;
                return #run;
            }
        }
    });
    let accepted = handlers.iter().map(|h| {
        let message = &h.message;
        quote_spanned!(message.span()=> <#message as #krate::Value>::type_name())
    });
    // `Handles<M>` for each message type (once per type: a duplicate is
    // reported above), so typed addresses accept exactly these.
    let mut seen = Vec::new();
    let handles = handlers.iter().filter_map(|h| {
        let message = &h.message;
        let key = message.to_token_stream().to_string();
        if seen.contains(&key) {
            return None;
        }
        seen.push(key);
        Some(quote_spanned! {message.span()=>
            impl #krate::Handles<#message> for #self_ty {}
        })
    });
    let handles: Vec<_> = handles.collect();
    let address = (!defines_address(&item)).then(|| {
        let name = parsed
            .type_name
            .as_ref()
            .map_or_else(String::new, LitStr::value);
        crate::remote::address_fn(krate, self_ty, &name)
    });
    let registration = parsed.auto_register.then(|| {
        quote_spanned! {self_ty.span()=>
            #krate::__private::inventory::submit! {
                #krate::__private::Registration::new(
                    #type_name,
                    || <#self_ty as #krate::FunctionType>::spec(
                        <#self_ty as #krate::__private::AutoRegister>::make(),
                    ),
                    ::core::file!(),
                    ::core::line!(),
                    ::core::module_path!(),
                )
            }
        }
    });

    quote! {
        #error
        #item

        const _: () = {
            #[#krate::async_trait]
            impl #krate::StatefulFunction for #self_ty {
                async fn invoke(
                    &self,
                    ctx: &mut #krate::Context,
                    message: #krate::Message,
                ) -> ::core::result::Result<(), #krate::FunctionError> {
                    #(#dispatch)*
                    ::core::result::Result::Err(#krate::__private::unexpected_message(
                        &message,
                        &[#(#accepted),*],
                    ))
                }
            }

            impl #krate::FunctionType for #self_ty {
                const TYPE_NAME: #krate::TypeName = #krate::TypeName::from_static(#type_name);
                type State = #state;
            }

            #(#handles)*
            #address

            #registration
        };
    }
}
