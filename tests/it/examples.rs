//! Every file in examples/ is a config the binary accepts: `plan` with it against an empty
//! emulator lists the stacks to create in both regions and exits 1 (changes).

use crate::util::Mysfits;

#[test]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
fn every_example_config_plans_a_two_region_create() {
    let moto = testbed::moto::Moto::start();
    let examples = testbed::workspace_root().join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|extension| extension.to_str()) != Some("yaml") {
            continue;
        }
        let mysfits = Mysfits::new();
        let copy = mysfits.file("config.yaml", &std::fs::read_to_string(&path).unwrap());
        let run = mysfits.envs(moto.client_env()).run(&[
            "--config",
            copy.to_str().unwrap(),
            "--endpoint-url",
            &moto.endpoint(),
            "plan",
        ]);
        assert_eq!(
            run.code(),
            1,
            "{}: {}{}",
            path.display(),
            run.stdout(),
            run.stderr()
        );
        let stdout = run.stdout();
        for stack in ["mysfits-registry (us-east-1)", "mysfits-app (us-west-2)"] {
            assert!(
                stdout.contains(stack),
                "{}: {stack} missing:\n{stdout}",
                path.display()
            );
        }
        assert!(
            stdout.contains("create stack"),
            "{}:\n{stdout}",
            path.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 2,
        "expected the example configs, found {checked}"
    );
}
