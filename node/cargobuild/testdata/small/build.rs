fn main() {
    println!("cargo:rustc-env=SMALL_GREETING=built by a build script");
    println!("cargo:rustc-cfg=small_cfg");
}
