//! Generates Rust from `proto/` at build time with no network and no installed tools:
//! `protox` parses the contracts in pure Rust into a `FileDescriptorSet` (imports and
//! comments included), and `connectrpc-build` turns that set into buffa message types and
//! Connect/gRPC/gRPC-Web service stubs.

use std::path::{Path, PathBuf};

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let mut files = Vec::new();
    collect(&root, &root, &mut files)?;
    files.sort();
    println!("cargo:rerun-if-changed={}", root.display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    let descriptors = protox::Compiler::new([&root])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(&files)?
        .file_descriptor_set();
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let set = out.join("lzstock.fds");
    std::fs::write(&set, descriptors.encode_to_vec())?;
    // The re-run triggers are the .proto files above: connectrpc-build's own would name the
    // descriptor set this script has just written, which is always newer than the script's
    // start, so every cargo command rebuilt this crate and everything that depends on it.
    println!("cargo:rerun-if-env-changed=BUFFA_ELEMENT_MEMORY_LIMIT");
    connectrpc_build::Config::new()
        .emit_rerun_directives(false)
        .descriptor_set(&set)
        .files(&files)
        .gate_client_feature(true)
        .include_file("_connectrpc.rs")
        .emit_descriptor_set("lzstock_descriptor.bin")
        .compile()?;
    Ok(())
}

/// Every `.proto` under `dir`, as paths relative to `root` (the names in the descriptors).
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            if let Ok(relative) = path.strip_prefix(root) {
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(())
}
