//! Generated protobuf messages and gRPC services of package `tiepdan.v1`.
//!
//! The `.proto` files under `tiepdan/v1/` are the wire contract between nodes that upgrade at
//! different times: fields are only ever added, and removed fields are `reserved`.

#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

/// Package `tiepdan.v1`.
pub mod v1 {
    tonic::include_proto!("tiepdan.v1");
}

/// Encoded `FileDescriptorSet` of every tiepdan file, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/tiepdan_descriptor.bin"));
