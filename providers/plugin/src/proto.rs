//! The generated protocol stubs.

#![allow(missing_docs, dead_code, clippy::all, clippy::pedantic)] // reason: generated code

/// Protocol 5 (Terraform 0.12 and later; providers on terraform-plugin-sdk).
pub(crate) mod v5 {
    tonic::include_proto!("tfplugin5");
}

/// Protocol 6 (Terraform 1.0 and later; providers on terraform-plugin-framework).
pub(crate) mod v6 {
    tonic::include_proto!("tfplugin6");
}

/// go-plugin's controller.
pub(crate) mod controller {
    tonic::include_proto!("plugin");
}
