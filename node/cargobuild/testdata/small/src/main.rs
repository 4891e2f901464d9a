greet_macro::greeting!();

fn main() {
    let mut buf = itoa::Buffer::new();
    let n: u64 = std::env::args().skip(1).map(|a| a.parse::<u64>().unwrap()).sum();
    #[cfg(small_cfg)]
    println!("{}, {}: {}", greeting(), env!("SMALL_GREETING"), buf.format(n));
}
