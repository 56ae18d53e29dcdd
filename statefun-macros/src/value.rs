//! `#[derive(Value)]`: ties a Rust type to a StateFun typename and a codec.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, LitStr, Path};

use crate::args;
use crate::ctxt::Ctxt;

/// The codec named in `#[statefun(codec = "...")]`.
enum Codec {
    Json,
    Protobuf,
}

struct Attrs {
    type_name: Option<LitStr>,
    codec: Codec,
    krate: Path,
}

fn parse(cx: &Ctxt, input: &DeriveInput) -> Attrs {
    let mut attrs = Attrs {
        type_name: None,
        codec: Codec::Json,
        krate: syn::parse_quote!(::stateful_functions),
    };
    let mut codec_seen = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("statefun")) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("typename") {
                args::type_name(cx, &meta, &mut attrs.type_name, false)?;
            } else if meta.path.is_ident("codec") {
                let lit: LitStr = meta.value()?.parse()?;
                if codec_seen {
                    cx.error_spanned_by(&lit, "duplicate `codec`");
                }
                codec_seen = true;
                match lit.value().as_str() {
                    "json" => attrs.codec = Codec::Json,
                    "protobuf" => attrs.codec = Codec::Protobuf,
                    other => cx.error_spanned_by(
                        &lit,
                        format!("unknown codec {other:?}: expected \"json\" or \"protobuf\""),
                    ),
                }
            } else if meta.path.is_ident("crate") {
                let lit: LitStr = meta.value()?.parse()?;
                match lit.parse::<Path>() {
                    Ok(path) => attrs.krate = path,
                    Err(e) => cx.syn_error(e),
                }
            } else {
                return Err(meta.error(
                    "unknown `statefun` attribute: expected `typename`, `codec` or `crate`",
                ));
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    if attrs.type_name.is_none() && matches!(attrs.codec, Codec::Json) {
        cx.error_spanned_by(
            &input.ident,
            "a JSON value type needs a typename: add `#[statefun(typename = \"<namespace>/<Name>\")]`",
        );
    }
    attrs
}

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let attrs = parse(&cx, input);
    let krate = &attrs.krate;
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();

    let body = cx.check().map(|()| {
            let (module, type_name) = match attrs.codec {
                Codec::Json => (quote!(json), None),
                Codec::Protobuf => (quote!(protobuf), Some(quote!(#krate::codec::protobuf::type_name::<Self>()))),
            };
            let type_name = match (&attrs.type_name, type_name) {
                // Through a constant, so the name is split at compile time
                // rather than on every call.
                (Some(lit), _) => quote!({
                    const TYPE_NAME: #krate::TypeName = #krate::TypeName::from_static(#lit);
                    TYPE_NAME
                }),
                (None, Some(from_prost)) => from_prost,
                (None, None) => quote!(#krate::TypeName::from_static("invalid/invalid")),
            };
            quote! {
                fn type_name() -> #krate::TypeName {
                    #type_name
                }

                fn to_bytes(&self) -> ::core::result::Result<#krate::Bytes, #krate::ValueError> {
                    #krate::codec::#module::encode(self, <Self as #krate::Value>::type_name())
                }

                fn from_bytes(bytes: &#krate::Bytes) -> ::core::result::Result<Self, #krate::ValueError> {
                    #krate::codec::#module::decode(bytes, <Self as #krate::Value>::type_name())
                }

                fn encode_into(&self, buf: &mut ::std::vec::Vec<u8>) -> ::core::result::Result<(), #krate::ValueError> {
                    #krate::codec::#module::encode_into(self, buf, <Self as #krate::Value>::type_name())
                }

                fn from_slice(bytes: &[u8]) -> ::core::result::Result<Self, #krate::ValueError> {
                    #krate::codec::#module::decode_slice(bytes, <Self as #krate::Value>::type_name())
                }
            }
    });
    match body {
        Ok(body) => {
            quote! {
                const _: () = {
                    impl #impl_generics #krate::Value for #ident #ty_generics #where_clause {
                        #body
                    }
                };
            }
        }
        // A stub impl keeps uses of the type from failing with "does not
        // implement Value" on top of the real error.
        Err(error) => {
            let error = error.to_compile_error();
            quote! {
                #error
                const _: () = {
                    impl #impl_generics #krate::Value for #ident #ty_generics #where_clause {
                        fn type_name() -> #krate::TypeName {
                            #krate::TypeName::from_static("invalid/invalid")
                        }
                        fn to_bytes(&self) -> ::core::result::Result<#krate::Bytes, #krate::ValueError> {
                            ::core::result::Result::Ok(#krate::Bytes::new())
                        }
                        fn from_bytes(_: &#krate::Bytes) -> ::core::result::Result<Self, #krate::ValueError> {
                            ::core::result::Result::Err(#krate::ValueError::Missing {
                                expected: <Self as #krate::Value>::type_name(),
                            })
                        }
                    }
                };
            }
        }
    }
}
