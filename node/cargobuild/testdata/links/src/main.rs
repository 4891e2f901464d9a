fn main() {
    // rustc warns of this variable; `buildchaind cargo build` shows the warning, as cargo does.
    let unused_greeting = 1;
    println!("{}, {}", env!("LINKS_GREETING"), greeting_sys::answer());
}
