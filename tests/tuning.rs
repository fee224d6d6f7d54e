//! The shipped tuning examples validate (statically: their core lists are for other machines).

#[test]
fn shipped_examples_validate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            coreflow::config::load_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
    }
    assert!(
        n >= 2,
        "expected the small and large examples in {}",
        dir.display()
    );
}

#[test]
fn small_example_runs_here() {
    // small.toml is for a 2-core box: its cores must also resolve on any machine with 2 cores
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/small.toml");
    let s = coreflow::config::load_file(&p).unwrap();
    let cores = coreflow::collector::available_cores();
    if cores.len() >= 2 && cores.contains(&0) && cores.contains(&1) {
        s.resolve(&cores).unwrap();
    }
}
