//! Command-line behaviour that needs no AWS: help, completions, and clear errors for bad input.

use crate::util::Mysfits;

#[test]
fn help_lists_every_command() {
    let run = Mysfits::new().run(&["--help"]);
    run.assert_success();
    for command in [
        "deploy",
        "plan",
        "status",
        "failover",
        "dashboard",
        "teardown",
        "build",
        "logs",
        "completions",
    ] {
        assert!(
            run.stdout().contains(command),
            "help misses {command}:\n{}",
            run.stdout()
        );
    }
}

#[test]
fn completions_are_generated_for_bash_and_zsh() {
    let bash = Mysfits::new().run(&["completions", "bash"]);
    bash.assert_success();
    assert!(bash.stdout().contains("_mysfits()"), "{}", bash.stdout());
    let zsh = Mysfits::new().run(&["completions", "zsh"]);
    zsh.assert_success();
    assert!(zsh.stdout().contains("#compdef mysfits"));
}

#[test]
fn missing_region_says_how_to_give_one() {
    let run = Mysfits::new().run(&["deploy"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("no region given"), "{}", run.stderr());
    assert!(run.stderr().contains("--region"), "{}", run.stderr());
}

#[test]
fn bad_values_are_named_with_a_fix() {
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--region",
                "us-east-1",
                "--secondary-region",
                "us-east-1",
                "plan",
            ],
            "region us-east-1 is given twice (--secondary-region)",
        ),
        (
            &["--region", "useast", "plan"],
            "\"useast\" is not an AWS region name",
        ),
        (
            &["--region", "us-east-1", "--app", "My_App", "plan"],
            "app name \"My_App\"",
        ),
        (
            &[
                "--region",
                "us-east-1",
                "--endpoint-url",
                "localhost:4566",
                "plan",
            ],
            "is not an http(s) URL",
        ),
    ];
    for (args, expected) in cases {
        let run = Mysfits::new().run(args);
        assert_eq!(run.code(), 2, "{args:?}");
        assert!(
            run.stderr().contains(expected),
            "{args:?}: {}",
            run.stderr()
        );
        assert!(run.stderr().contains("fix:"), "{args:?}: {}", run.stderr());
    }
}

#[test]
fn config_file_typos_and_missing_files_are_reported() {
    let mysfits = Mysfits::new();
    mysfits.file(
        "mysfits.yaml",
        "region: us-east-1\nsecundary_region: us-west-2\n",
    );
    let run = mysfits.run(&["plan"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("unknown field `secundary_region`"),
        "{}",
        run.stderr()
    );

    let run = Mysfits::new().run(&["--config", "nowhere.yaml", "plan"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("could not read config file nowhere.yaml"),
        "{}",
        run.stderr()
    );
}

#[test]
fn logs_in_a_region_outside_the_app_names_the_app_regions() {
    let run = Mysfits::new().run(&[
        "--regions",
        "us-east-1,us-west-2,eu-west-1",
        "logs",
        "--in",
        "ap-south-1",
    ]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains(
            "ap-south-1 is not one of the app's regions (us-east-1, us-west-2, eu-west-1)"
        ) && run.stderr().contains("fix:"),
        "{}",
        run.stderr()
    );
}

#[test]
fn help_texts_speak_of_every_region() {
    let run = Mysfits::new().run(&["--help"]);
    run.assert_success();
    let help = run.stdout();
    for stale in [
        "both regions",
        "primary and the secondary",
        "in two regions",
    ] {
        assert!(!help.contains(stale), "{stale:?} in:\n{help}");
    }
    let logs = Mysfits::new().run(&["logs", "--help"]);
    logs.assert_success();
    assert!(
        logs.stdout().contains("--in <REGION,...>"),
        "{}",
        logs.stdout()
    );
}
