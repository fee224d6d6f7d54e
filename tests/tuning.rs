//! The shipped presets validate (statically: their core lists are for other machines), and
//! `--print-default-config` prints the default template.

use std::path::Path;

const PRESETS: &[&str] = &["default", "small", "large", "kafka-tls"];

#[test]
fn shipped_examples_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            coreflow::cli::load_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            found.push(p.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    for want in PRESETS {
        assert!(
            found.iter().any(|f| f == want),
            "tuning/{want}.toml missing"
        );
    }
}

#[test]
fn kafka_tls_preset_selects_kafka_over_tls() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/kafka-tls.toml");
    let s = coreflow::cli::load_file(&p).unwrap();
    assert!(matches!(s.output.sink, coreflow::cli::SinkSettings::Kafka));
    assert!(s.kafka.tls && s.kafka.sasl);
}

#[test]
fn print_default_config_is_the_template() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coreflow"))
        .arg("--print-default-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        coreflow::cli::DEFAULT_CONFIG
    );
}

#[test]
fn small_example_runs_here() {
    // small.toml is for a 2-core box: its cores must also resolve on any machine with 2 cores
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/small.toml");
    let s = coreflow::cli::load_file(&p).unwrap();
    let cores = coreflow::app::collector::available_cores();
    if cores.len() >= 2 && cores.contains(&0) && cores.contains(&1) {
        s.resolve(&cores).unwrap();
    }
}

#[test]
fn two_nic_recipe_validates() {
    // the TOML block of the guide's "Two NICs" section, as a file
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/README.md"))
            .unwrap();
    let section = &guide[guide.find("### Two NICs").expect("Two NICs section")..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    let p = std::env::temp_dir().join(format!("coreflow-two-nic-{}.toml", std::process::id()));
    std::fs::write(&p, block).unwrap();
    let s = coreflow::cli::load_file(&p);
    let _ = std::fs::remove_file(&p);
    let s = s.unwrap();
    assert_eq!(s.netflow.binds.len(), 2);
    assert_eq!(s.netflow.workers(), 8);
    assert_eq!(s.netflow.binds[1].cores, Some(vec![10, 11, 12, 13]));
}
