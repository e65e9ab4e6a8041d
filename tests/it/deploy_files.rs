//! The Kubernetes and AWS Batch files cannot run here (no API server or Batch service): they
//! are parsed and checked. The Slurm files run for real in `scale_out`.

use std::process::Command;

use serde_json::Value;

use crate::scale_out::deploy;

/// Kubernetes and AWS Batch cannot run here: their files are parsed and checked.
#[test]
fn kubernetes_and_aws_batch_files_run_the_shards_and_merge() {
    let yaml = |name: &str| -> serde_yaml::Value {
        serde_yaml::from_str(&std::fs::read_to_string(deploy(name)).unwrap()).unwrap()
    };
    let shards = yaml("kubernetes/shards.yaml");
    let spec = &shards["spec"];
    assert_eq!(shards["kind"], "Job");
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"], spec["parallelism"]);
    let plan = yaml("kubernetes/plan.yaml");
    let plan_args: Vec<&str> = plan["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = plan_args.iter().position(|&a| a == "--shards").unwrap();
    assert_eq!(
        plan_args[at + 1].parse::<u64>().ok(),
        spec["completions"].as_u64(),
        "completions = the plan's shards"
    );
    let shard_command = format!("{:?}", spec["template"]["spec"]["containers"][0]);
    assert!(
        shard_command.contains("convert --plan \\\"$DEST\\\" --shard auto"),
        "{shard_command}"
    );
    // Each shard runs one worker thread per CPU it asked for, not one per core of the node.
    let container = &spec["template"]["spec"]["containers"][0];
    let threads = container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|var| var["name"] == "THREADS")
        .expect("a THREADS variable");
    assert_eq!(
        threads["valueFrom"]["resourceFieldRef"]["resource"],
        "requests.cpu"
    );
    assert!(container["resources"]["requests"]["cpu"].is_string());
    assert!(
        shard_command.contains("--threads \\\"$THREADS\\\""),
        "{shard_command}"
    );
    let merge = yaml("kubernetes/merge.yaml");
    let merge_args = &merge["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(merge_args[0], "merge");
    for job in [&plan, &shards, &merge] {
        assert_eq!(
            job["spec"]["template"]["spec"]["serviceAccountName"],
            "dicomprep"
        );
    }

    let json = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(deploy(name)).unwrap()).unwrap()
    };
    let shard_definition = json("aws-batch/shard-job-definition.json");
    let command = shard_definition["containerProperties"]["command"].to_string();
    assert!(
        command.contains("--shard auto") && command.contains("Ref::dest"),
        "{command}"
    );
    let vcpus = shard_definition["containerProperties"]["resourceRequirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "VCPU")
        .unwrap()["value"]
        .clone();
    assert_eq!(
        shard_definition["parameters"]["threads"], vcpus,
        "as many threads as vCPUs"
    );
    assert!(
        command.contains("--threads") && command.contains("Ref::threads"),
        "{command}"
    );
    let sbatch = std::fs::read_to_string(deploy("slurm/shard.sbatch")).unwrap();
    assert!(sbatch.contains("${SLURM_CPUS_PER_TASK:-}") && sbatch.contains("--threads"));
    let merge_definition = json("aws-batch/merge-job-definition.json");
    assert_eq!(
        merge_definition["containerProperties"]["command"],
        serde_json::json!(["merge", "Ref::dest"])
    );
    let submit = std::fs::read_to_string(deploy("aws-batch/submit.sh")).unwrap();
    assert!(submit.contains("--array-properties \"size=$shards\""));
    assert!(submit.contains("--depends-on \"jobId=$array\""));
    for definition in [&shard_definition, &merge_definition] {
        assert!(definition["containerProperties"]["jobRoleArn"].is_string());
    }
    // Credentials come from roles and service accounts, never from these files.
    for name in [
        "kubernetes/plan.yaml",
        "kubernetes/shards.yaml",
        "kubernetes/merge.yaml",
        "aws-batch/shard-job-definition.json",
        "aws-batch/merge-job-definition.json",
        "aws-batch/submit.sh",
        "slurm/submit.sh",
        "slurm/shard.sbatch",
        "slurm/merge.sbatch",
    ] {
        let text = std::fs::read_to_string(deploy(name)).unwrap();
        for secret in [
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "ACCOUNT_KEY",
            "SAS_KEY",
            "private_key",
        ] {
            assert!(!text.contains(secret), "{name} names {secret}");
        }
    }
    for script in [
        "slurm/submit.sh",
        "slurm/shard.sbatch",
        "slurm/merge.sbatch",
        "aws-batch/submit.sh",
        "kubernetes/run.sh",
    ] {
        let status = Command::new("bash")
            .arg("-n")
            .arg(deploy(script))
            .status()
            .unwrap();
        assert!(status.success(), "{script} is not valid bash");
    }
}
