//! `#[derive(State)]`: a struct whose fields are the state values of a
//! function, declared once.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path};

use crate::ctxt::Ctxt;
use crate::rules;

enum Expire {
    Never,
    AfterWrite(u64),
    AfterCall(u64),
}

struct Field {
    ident: Ident,
    ty: syn::Type,
    /// The state name; a placeholder when the real one is invalid.
    name: String,
    name_span: Span,
    expire: Expire,
    docs: Vec<syn::Attribute>,
}

fn container_crate(cx: &Ctxt, input: &DeriveInput) -> Path {
    let mut krate: Path = syn::parse_quote!(::stateful_functions);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("state")) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let lit: LitStr = meta.value()?.parse()?;
                krate = lit.parse()?;
                Ok(())
            } else {
                Err(meta.error("unknown `state` attribute on the struct: expected `crate`"))
            }
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    krate
}

fn parse_field(cx: &Ctxt, field: &syn::Field) -> Option<Field> {
    let ident = field.ident.clone()?;
    let mut name: Option<LitStr> = None;
    let mut expire = Expire::Never;
    let mut expire_lit: Option<LitStr> = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("state")) {
        let result = attr.parse_nested_meta(|meta| {
            let key = if meta.path.is_ident("name") {
                "name"
            } else if meta.path.is_ident("expire_after_write") {
                "expire_after_write"
            } else if meta.path.is_ident("expire_after_call") {
                "expire_after_call"
            } else {
                return Err(meta.error(
                    "unknown `state` attribute: expected `name`, `expire_after_write` or `expire_after_call`",
                ));
            };
            let lit: LitStr = meta.value()?.parse()?;
            if key == "name" {
                if name.is_some() {
                    cx.error_spanned_by(&lit, "duplicate `name`");
                }
                name = Some(lit);
                return Ok(());
            }
            if expire_lit.is_some() {
                cx.error_spanned_by(
                    &lit,
                    "a state value expires after write or after call, not both",
                );
                return Ok(());
            }
            match rules::parse_expiration_millis(&lit.value()) {
                Ok(ms) if key == "expire_after_write" => expire = Expire::AfterWrite(ms),
                Ok(ms) => expire = Expire::AfterCall(ms),
                Err(problem) => cx.error_spanned_by(&lit, problem),
            }
            expire_lit = Some(lit);
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    let (name, name_span) = match &name {
        Some(lit) => (lit.value(), lit.span()),
        None => (ident.unraw().to_string(), ident.span()),
    };
    let name = match rules::state_name_problem(&name) {
        None => name,
        Some(problem) => {
            cx.syn_error(syn::Error::new(name_span, problem));
            "invalid_state_name".to_owned()
        }
    };
    let docs = field
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect();
    Some(Field {
        ident,
        ty: field.ty.clone(),
        name,
        name_span,
        expire,
        docs,
    })
}

trait Unraw {
    fn unraw(&self) -> Ident;
}

impl Unraw for Ident {
    fn unraw(&self) -> Ident {
        let s = self.to_string();
        match s.strip_prefix("r#") {
            Some(bare) => Ident::new(bare, self.span()),
            None => self.clone(),
        }
    }
}

fn const_name(field: &Ident) -> Ident {
    format_ident!(
        "{}",
        field.unraw().to_string().to_uppercase(),
        span = field.span()
    )
}

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let krate = container_crate(&cx, input);
    let ident = &input.ident;
    let vis = &input.vis;

    let fields: Vec<Field> = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named
                .named
                .iter()
                .filter_map(|f| parse_field(&cx, f))
                .collect(),
            other => {
                cx.error_spanned_by(
                    other,
                    "#[derive(State)] needs named fields: each field is one state value",
                );
                Vec::new()
            }
        },
        Data::Enum(e) => {
            cx.syn_error(syn::Error::new(
                e.enum_token.span(),
                "#[derive(State)] needs a struct whose fields are the state values, not an enum",
            ));
            Vec::new()
        }
        Data::Union(u) => {
            cx.syn_error(syn::Error::new(
                u.union_token.span(),
                "#[derive(State)] needs a struct whose fields are the state values, not a union",
            ));
            Vec::new()
        }
    };
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "a state struct cannot be generic: its fields declare fixed state types",
        );
    }
    for (i, field) in fields.iter().enumerate() {
        if let Some(first) = fields[..i]
            .iter()
            .find(|f| f.name == field.name && field.name != "invalid_state_name")
        {
            cx.syn_error(syn::Error::new(
                field.name_span,
                format!(
                    "state name `{}` is already used by field `{}`",
                    field.name, first.ident
                ),
            ));
        }
    }
    let error = cx.check().err().map(|e| e.to_compile_error());

    let consts = fields.iter().map(|f| {
        let Field {
            ident: field,
            ty,
            name,
            expire,
            docs,
            ..
        } = f;
        let konst = const_name(field);
        let expiration = match expire {
            Expire::Never => quote!(),
            Expire::AfterWrite(ms) => quote!(.with_expiration(#krate::Expiration::AfterWrite(
                ::core::time::Duration::from_millis(#ms)
            ))),
            Expire::AfterCall(ms) => quote!(.with_expiration(#krate::Expiration::AfterCall(
                ::core::time::Duration::from_millis(#ms)
            ))),
        };
        let summary = format!("State value `{name}` (field `{field}`).");
        quote_spanned! {field.span()=>
            #[doc = #summary]
            #(#docs)*
            #[allow(dead_code)]
            #vis const #konst: #krate::ValueSpec<#ty> = #krate::ValueSpec::named(#name) #expiration;
        }
    });
    let declares = fields.iter().map(|f| {
        let konst = const_name(&f.ident);
        quote!(.with_state(&Self::#konst))
    });
    let stores = fields.iter().map(|f| {
        let konst = const_name(&f.ident);
        let field = &f.ident;
        quote!(storage.set(&Self::#konst, &self.#field)?;)
    });

    quote! {
        #error
        impl #ident {
            #(#consts)*
        }

        impl #krate::State for #ident {
            fn declare(builder: #krate::FunctionSpecBuilder) -> #krate::FunctionSpecBuilder {
                builder #(#declares)*
            }

            fn store(&self, storage: &mut #krate::Storage) -> ::core::result::Result<(), #krate::StateError> {
                #(#stores)*
                ::core::result::Result::Ok(())
            }
        }
    }
}
