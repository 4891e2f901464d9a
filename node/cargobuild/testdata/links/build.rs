// Reads the metadata greeting-sys's build script printed (links = "greeting"): cargo passes it
// to this script as DEP_GREETING_{KEY}. `include` names a directory of that script's OUT_DIR.
use std::{env, fs, path::Path};

fn main() {
    let word = env::var("DEP_GREETING_WORD").expect("DEP_GREETING_WORD: greeting-sys's metadata");
    let dir = env::var("DEP_GREETING_INCLUDE").expect("DEP_GREETING_INCLUDE: greeting-sys's metadata");
    let text = fs::read_to_string(Path::new(&dir).join("greeting.txt")).expect("greeting.txt in greeting-sys's OUT_DIR");
    println!("cargo:rustc-env=LINKS_GREETING={} {}", text.trim(), word);
}
