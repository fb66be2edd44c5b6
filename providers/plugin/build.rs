//! The plugin protocol's client stubs, from the `.proto` files in `proto/` (protoc is needed,
//! as for etcd-client).

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=proto");
    tonic_prost_build::configure()
        .build_server(false)
        .compile_protos(
            &[
                "proto/tfplugin5.proto",
                "proto/tfplugin6.proto",
                "proto/grpc_controller.proto",
            ],
            &["proto"],
        )
}
