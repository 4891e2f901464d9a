// A -sys crate's build script: it writes a file to OUT_DIR and tells the build scripts of the
// packages that depend on it where it is (cargo:KEY=VALUE, which cargo passes to them as
// DEP_GREETING_KEY because this package has links = "greeting").
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let include = out.join("include");
    fs::create_dir_all(&include).unwrap();
    fs::write(include.join("greeting.txt"), "hello from").unwrap();
    println!("cargo:include={}", include.display());
    println!("cargo:word=links metadata");
    println!("cargo:warning=greeting-sys: a build script's warning");
}
