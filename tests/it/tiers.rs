//! The two test tiers, checked. The fast tier (plain `cargo test` or `cargo nextest run`) needs
//! nothing but cargo; the emulator tier is every test that starts moto_server, docker-registry or
//! podman through the testbed, marked `#[ignore = "emulator tier: ..."]` so that only
//! scripts/test runs it (it passes `--run-ignored`). A mark forgotten would make a fresh clone's
//! `cargo test` fail, or pass only where moto happens to be installed; a mark too many would hide
//! a fast test from `cargo test`. This test reads the test sources and fails on either.
//!
//! It follows calls by name within and across the scanned files, so a test that starts moto
//! through a helper (`seeded()`, `World::start()`) counts as starting it. The testbed itself
//! backs this up at run time: scripts/test runs the fast tier with `MYSFITS_TEST_TIER=fast`,
//! under which every starter panics and names the mark to add.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The testbed calls that start an outside program, and the program each starts (the website's
/// browser test starts chromedriver itself, services/like-service/tests/service/browser.rs).
const STARTERS: [(&str, &str); 4] = [
    ("Moto::start", "moto_server"),
    ("Registry::start", "docker-registry"),
    ("Container::run", "podman"),
    ("Chromedriver::start", "chromedriver"),
];

/// How an emulator-tier test's `#[ignore]` reason begins.
const MARK: &str = "#[ignore = \"emulator tier: needs ";

/// One `fn` item of a test source: where it is, the attribute lines above it and its text.
struct Function {
    file: String,
    line: usize,
    name: String,
    attributes: Vec<String>,
    body: String,
}

impl Function {
    fn is_test(&self) -> bool {
        self.attributes
            .iter()
            .any(|line| line == "#[test]" || line.starts_with("#[tokio::test"))
    }
}

/// The files whose tests this check covers: the CLI's test binary and the services' tests.
fn test_sources() -> Vec<PathBuf> {
    let root = testbed::workspace_root();
    let mut folders = vec![root.join("tests/it")];
    for service in std::fs::read_dir(root.join("services")).unwrap() {
        folders.push(service.unwrap().path().join("tests"));
    }
    let mut files = Vec::new();
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs")
                && !path.ends_with("tests/it/tiers.rs")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The `fn` items of a rustfmt-formatted file: a body ends at the first line that closes a brace
/// at the indentation the `fn` started at.
fn functions(path: &Path) -> Vec<Function> {
    let declaration =
        regex_lite::Regex::new(r"^(\s*)(?:pub(?:\([a-z]+\))? )?(?:async )?fn (\w+)").unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let root = testbed::workspace_root();
    let file = path
        .strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string();
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(captures) = declaration.captures(line) else {
            continue;
        };
        let indent = &captures[1];
        let close = format!("{indent}}}");
        let end = if line.trim_end().ends_with('}') || line.trim_end().ends_with(';') {
            index
        } else {
            (index + 1..lines.len())
                .find(|&next| lines[next] == close)
                .unwrap_or(lines.len() - 1)
        };
        let attributes = lines[..index]
            .iter()
            .rev()
            .map(|line| line.trim())
            .take_while(|line| line.starts_with("#[") || line.starts_with("//"))
            .filter(|line| line.starts_with("#["))
            .map(str::to_string)
            .collect();
        found.push(Function {
            file: file.clone(),
            line: index + 1,
            name: captures[2].to_string(),
            attributes,
            body: lines[index + 1..=end.max(index)].join("\n"),
        });
    }
    found
}

/// For every function name that reaches a starter, directly or through the functions it calls:
/// the programs it starts (`moto_server`, `docker-registry`, `podman`).
fn programs_started(functions: &[Function]) -> BTreeMap<String, BTreeSet<&'static str>> {
    let call = regex_lite::Regex::new(r"\b(\w+)(?:::<[^>]*>)?\(").unwrap();
    let callees: Vec<BTreeSet<&str>> = functions
        .iter()
        .map(|function| {
            let calls = call.captures_iter(&function.body);
            calls.map(|c| c.get(1).unwrap().as_str()).collect()
        })
        .collect();
    let mut started: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for function in functions {
        for (starter, program) in STARTERS {
            if function.body.contains(starter) {
                started
                    .entry(function.name.clone())
                    .or_default()
                    .insert(program);
            }
        }
    }
    loop {
        let mut added = false;
        for (function, callees) in functions.iter().zip(&callees) {
            let mut programs = started.get(&function.name).cloned().unwrap_or_default();
            for callee in callees {
                if let Some(callee_programs) = started.get(*callee) {
                    programs.extend(callee_programs);
                }
            }
            if !programs.is_empty() && started.get(&function.name) != Some(&programs) {
                started.insert(function.name.clone(), programs);
                added = true;
            }
        }
        if !added {
            return started;
        }
    }
}

#[test]
fn every_test_that_starts_the_testbed_is_marked_emulator_tier_and_no_other() {
    let functions: Vec<Function> = test_sources().iter().flat_map(|p| functions(p)).collect();
    let tests: Vec<&Function> = functions.iter().filter(|f| f.is_test()).collect();
    assert!(tests.len() > 100, "found only {} tests", tests.len());
    let started = programs_started(&functions);
    let mut wrong = Vec::new();
    for test in tests {
        let place = format!("{}:{} {}", test.file, test.line, test.name);
        let mark = test.attributes.iter().find(|line| line.starts_with(MARK));
        match (started.get(&test.name), mark) {
            (Some(programs), None) => wrong.push(format!(
                "{place} starts {programs:?} (itself or through a helper) but is not marked: add \
                 {MARK}{}; run scripts/test\"]",
                Vec::from_iter(programs.iter().copied()).join(", ")
            )),
            (Some(programs), Some(mark)) => {
                let unnamed: Vec<_> = programs.iter().filter(|p| !mark.contains(*p)).collect();
                if !unnamed.is_empty() {
                    wrong.push(format!("{place}: its mark does not name {unnamed:?}"));
                }
            }
            (None, Some(_)) => wrong.push(format!(
                "{place} is marked emulator tier but starts nothing of the testbed: remove the \
                 #[ignore] so that cargo test runs it"
            )),
            (None, None) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
