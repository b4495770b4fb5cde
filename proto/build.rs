//! Compiles `tiepdan/v1/*.proto` with protox (pure Rust, no system protoc) and generates
//! prost messages and tonic services, plus the descriptor set that server reflection serves.

use std::{env, fs, path::PathBuf};

use protox::prost::Message as _;

const FILES: &[&str] = &[
    "tiepdan/v1/types.proto",
    "tiepdan/v1/unit_service.proto",
    "tiepdan/v1/reception_service.proto",
    "tiepdan/v1/petition_service.proto",
    "tiepdan/v1/case_service.proto",
    "tiepdan/v1/journal.proto",
    "tiepdan/v1/sync.proto",
    "tiepdan/v1/report_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for file in FILES {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(FILES, ["."])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("tiepdan_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
