use std::collections::HashMap;
fn main() { let mut m = HashMap::new(); for i in 0..1000u64 { m.insert(i, format!("{}", i * i)); }
  let v: Vec<_> = (0..100).map(|i| std::thread::spawn(move || i * 2)).collect();
  println!("{} {}", m.len(), v.into_iter().map(|h| h.join().unwrap()).sum::<i32>()); }
