//! Help that teaches: each command's examples parse, global options sit under their own heading
//! and only where they mean something, region flags complete from AWS's region list.

use mysfits::app::region::KNOWN_REGIONS;

use crate::util::{Mysfits, assert_golden};

/// The help as the real binary prints it, 100 columns wide whatever the terminal.
fn stdout_of(args: &[&str]) -> String {
    let run = Mysfits::new()
        .envs(vec![("COLUMNS".into(), "100".into())])
        .run(args);
    run.assert_success();
    run.stdout()
}

/// The command line of an example (`mysfits deploy --region x  # why` → its words), without the
/// shell's comment and redirection.
fn example_words(line: &str) -> Vec<&str> {
    let command = line.split(" #").next().unwrap_or(line);
    let command = command.split(" >").next().unwrap_or(command);
    command.split_whitespace().collect()
}

/// Every command's examples, by the command's path, from its help.
fn examples_in_help() -> Vec<(String, Vec<String>)> {
    fn walk(command: &clap::Command, path: String, found: &mut Vec<(String, Vec<String>)>) {
        let text = command
            .get_after_help()
            .map(|text| text.to_string())
            .unwrap_or_default();
        let lines = text
            .split_once("Examples:")
            .map(|(_, examples)| examples.lines().map(str::trim).filter(|l| !l.is_empty()))
            .into_iter()
            .flatten()
            .map(String::from)
            .collect();
        found.push((path.clone(), lines));
        for sub in command
            .get_subcommands()
            .filter(|sub| sub.get_name() != "help")
        {
            walk(sub, format!("{path} {}", sub.get_name()), found);
        }
    }
    let mut found = Vec::new();
    walk(&mysfits::cli::command(), "mysfits".into(), &mut found);
    found
}

#[test]
fn every_command_has_examples_and_every_example_parses() {
    for (path, lines) in examples_in_help() {
        assert!(!lines.is_empty(), "`{path} --help` has no examples");
        for line in lines {
            assert!(
                line.starts_with(&format!("{path} ")),
                "an example of `{path}` runs another command: {line}"
            );
            if let Err(error) = mysfits::cli::try_parse_from(example_words(&line)) {
                panic!("the example `{line}` of `{path}` does not parse:\n{error}");
            }
        }
    }
}

#[test]
fn every_line_of_the_readme_usage_parses() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let usage = readme
        .split_once("## Usage\n")
        .and_then(|(_, rest)| rest.split_once("```sh\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .expect("README has a Usage section with a sh block");
    let lines: Vec<&str> = usage
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert!(lines.len() >= 10, "{usage}");
    for line in lines {
        if let Err(error) = mysfits::cli::try_parse_from(example_words(line)) {
            panic!("README usage line `{line}` does not parse:\n{error}");
        }
    }
}

/// The help pages a newcomer reads first, whole: commands, options, global options, examples.
#[test]
fn help_of_mysfits_and_of_deploy_are_as_golden() {
    for (name, args) in [
        ("help-mysfits", &["--help"][..]),
        ("help-deploy", &["deploy", "--help"][..]),
    ] {
        let text = stdout_of(args);
        assert_golden(name, &serde_json::json!(text.lines().collect::<Vec<_>>()));
    }
}

#[test]
fn global_options_are_offered_only_where_they_mean_something() {
    // The long names of the options a help page lists, in its order.
    let options = |args: &[&str]| -> Vec<String> {
        stdout_of(args)
            .lines()
            .map(str::trim_start)
            .filter(|line| line.starts_with('-'))
            .filter_map(|line| {
                let long = line
                    .split_whitespace()
                    .find_map(|word| word.strip_prefix("--"))?;
                Some(long.trim_end_matches(['.', ',']).to_string())
            })
            .collect()
    };
    let every_aws_command = [
        "region",
        "secondary-region",
        "regions",
        "app",
        "profile",
        "endpoint-url",
        "config",
        "output",
    ];
    for command in [
        &["status"][..],
        &["deploy"],
        &["dashboard", "show"],
        &["logs"],
    ] {
        let found = options(&[command, &["--help"]].concat());
        for option in every_aws_command.iter().chain(&["verbose", "help"]) {
            assert!(
                found.iter().any(|f| f == option),
                "{command:?} lacks --{option}: {found:?}"
            );
        }
        assert!(
            !found.contains(&"yes".to_string()),
            "{command:?} offers --yes: {found:?}"
        );
    }
    for command in [&["teardown"][..], &["dashboard", "delete"]] {
        let found = options(&[command, &["--help"]].concat());
        assert!(
            found.contains(&"yes".to_string()),
            "{command:?} lacks --yes: {found:?}"
        );
    }
    assert_eq!(
        options(&["iam-policy", "--help"]),
        [
            "help",
            "region",
            "secondary-region",
            "regions",
            "app",
            "config",
            "verbose"
        ]
    );
    assert_eq!(options(&["completions", "--help"]), ["help"]);
}

#[test]
fn an_option_a_command_does_not_take_is_refused_before_or_after_it() {
    let after = Mysfits::new().run(&["completions", "bash", "--yes"]);
    assert_eq!(after.code(), 2);
    assert_eq!(after.stdout(), "");
    assert_eq!(
        after.stderr(),
        "error: unexpected argument '--yes' found\n\n  tip: to pass '--yes' as a value, use '-- --yes'\n\n\
         Usage: mysfits completions <SHELL>\n\nFor more information, try '--help'.\n"
    );
    let before = Mysfits::new().run(&["--output", "json", "iam-policy"]);
    assert_eq!(before.code(), 2);
    assert_eq!(before.stdout(), "");
    assert_eq!(
        before.stderr(),
        "error: unexpected argument '--output' found: `mysfits iam-policy` does not take it\n\n\
         Usage: mysfits iam-policy [OPTIONS]\n\nFor more information, try '--help'.\n"
    );
    let profile = Mysfits::new().run(&["--profile", "p", "completions", "zsh"]);
    assert_eq!(
        profile.stderr(),
        "error: unexpected argument '--profile' found: `mysfits completions` does not take it\n\n\
         Usage: mysfits completions <SHELL>\n\nFor more information, try '--help'.\n"
    );
}

/// The environment is no command line: MYSFITS_REGION set for every command does not stop
/// `completions`, and after-the-command options still win over it.
#[test]
fn environment_values_are_not_refused_and_flags_win_over_them() {
    let run = Mysfits::new()
        .envs(vec![
            ("MYSFITS_REGION".into(), "eu-west-1".into()),
            ("AWS_PROFILE".into(), "someone".into()),
        ])
        .run(&["completions", "bash"]);
    run.assert_success();
    let cli = mysfits::cli::try_parse_from([
        "mysfits",
        "--region",
        "us-east-1",
        "iam-policy",
        "--region",
        "eu-west-1",
    ])
    .unwrap();
    assert_eq!(cli.global.region.as_deref(), Some("eu-west-1"));
}

#[test]
fn region_flags_complete_from_the_known_regions_and_files_complete_as_files() {
    let names: Vec<&str> = KNOWN_REGIONS.iter().map(|(name, _)| *name).collect();
    let bash = stdout_of(&["completions", "bash"]);
    let offered = format!(
        "COMPREPLY=($(compgen -W \"{}\" -- \"${{cur}}\"))",
        names.join(" ")
    );
    for option in [
        "--region",
        "--secondary-region",
        "--regions",
        "--to",
        "--in",
    ] {
        let cases: Vec<&str> = bash
            .split(&format!("                {option})\n"))
            .skip(1)
            .map(|rest| rest.lines().next().unwrap_or_default().trim())
            .collect();
        assert!(!cases.is_empty(), "bash has no case for {option}");
        for case in cases {
            assert_eq!(case, offered, "bash completes {option} otherwise");
        }
    }
    let zsh = stdout_of(&["completions", "zsh"]);
    let zsh_values: Vec<String> = KNOWN_REGIONS
        .iter()
        .map(|(name, location)| format!("{name}\\:\"{location}\""))
        .collect();
    // zsh lists one `value\:"help"` per line.
    let zsh_list = format!(":REGION:(({}))' \\\n", zsh_values.join("\n"));
    for option in ["--region=[", "--to=["] {
        let cases: Vec<&str> = zsh
            .lines()
            .filter(|line| line.starts_with('\'') && line.contains(option))
            .collect();
        assert!(!cases.is_empty(), "zsh has no {option}");
        for case in cases {
            let from = zsh.find(case).unwrap() + case.find(":REGION:").expect("a REGION value");
            assert!(zsh[from..].starts_with(&zsh_list), "zsh {option}: {case}");
        }
    }
    assert!(
        zsh.contains("]:FILE:_files' \\"),
        "--config completes files in zsh"
    );
    assert!(
        zsh.contains("]:DIR:_files -/' \\"),
        "--prebuilt-binaries completes directories"
    );
}
