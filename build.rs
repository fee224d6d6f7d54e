//! Compiles the wire schemas in `proto/` with prost. The `.proto` files are parsed by protox
//! (pure Rust), so building coreflow never needs a `protoc` binary on the machine.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // goflow-v2 and goflow-v3 share the package name `flowprotob` (as GoFlow's own files do),
    // so each schema is generated into its own folder.
    for (file, dir) in [
        ("proto/goflow_v2.proto", "goflow_v2"),
        ("proto/goflow_v3.proto", "goflow_v3"),
        ("proto/goflow2.proto", "goflow2"),
        ("proto/counters.proto", "counters"),
        ("proto/cluster.proto", "cluster"),
    ] {
        println!("cargo:rerun-if-changed={file}");
        let fds = protox::compile([file], ["proto"]).unwrap_or_else(|e| panic!("{file}: {e}"));
        let dir = out.join(dir);
        std::fs::create_dir_all(&dir).expect("create OUT_DIR subfolder");
        prost_build::Config::new()
            .out_dir(&dir)
            .compile_fds(fds)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}
