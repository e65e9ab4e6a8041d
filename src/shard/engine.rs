//! `--shard auto`: which task of an array job this process is, from the variables each engine
//! sets. Pure code: the environment is passed in as a lookup.
//!
//! | engine | index | task count |
//! |---|---|---|
//! | Slurm job array | `SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`, over `SLURM_ARRAY_TASK_STEP` | `SLURM_ARRAY_TASK_COUNT` |
//! | Kubernetes Indexed Job | `JOB_COMPLETION_INDEX` | not given |
//! | AWS Batch array job | `AWS_BATCH_JOB_ARRAY_INDEX` | not given |
//! | Cloud Run job | `CLOUD_RUN_TASK_INDEX` | `CLOUD_RUN_TASK_COUNT` |

use std::fmt;

/// The task this process is, as its engine numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineTask {
    pub engine: Engine,
    /// 0-based index of the task.
    pub index: usize,
    /// Tasks in the array, when the engine says.
    pub count: Option<usize>,
}

/// The array-job engines `--shard auto` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Slurm,
    Kubernetes,
    AwsBatch,
    CloudRun,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Slurm => "Slurm job array",
            Engine::Kubernetes => "Kubernetes Indexed Job",
            Engine::AwsBatch => "AWS Batch array job",
            Engine::CloudRun => "Cloud Run job",
        })
    }
}

/// The task this process is, from `var` (the environment); an error names the variable that
/// is missing or wrong.
pub fn detect(var: impl Fn(&str) -> Option<String>) -> Result<EngineTask, String> {
    let number = |name: &str| -> Result<Option<usize>, String> {
        var(name)
            .map(|value| {
                value
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| format!("{name}={value:?} is not a task number"))
            })
            .transpose()
    };
    if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        let offset = id.checked_sub(min).ok_or_else(|| {
            format!("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}")
        })?;
        return Ok(EngineTask {
            engine: Engine::Slurm,
            index: offset / step,
            count: number("SLURM_ARRAY_TASK_COUNT")?,
        });
    }
    let engines = [
        (Engine::Kubernetes, "JOB_COMPLETION_INDEX", None),
        (Engine::AwsBatch, "AWS_BATCH_JOB_ARRAY_INDEX", None),
        (
            Engine::CloudRun,
            "CLOUD_RUN_TASK_INDEX",
            Some("CLOUD_RUN_TASK_COUNT"),
        ),
    ];
    for (engine, index_var, count_var) in engines {
        if let Some(index) = number(index_var)? {
            let count = match count_var {
                Some(name) => number(name)?,
                None => None,
            };
            return Ok(EngineTask {
                engine,
                index,
                count,
            });
        }
    }
    Err("no array-job task index in the environment (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX or CLOUD_RUN_TASK_INDEX); pass --shard K".into())
}

/// Checks `task` against a plan of `shards` shards: the engine must run exactly that many
/// tasks (when it says how many), and the index must name a shard.
pub fn check(task: &EngineTask, shards: usize) -> Result<usize, String> {
    if let Some(count) = task.count.filter(|&count| count != shards) {
        return Err(format!(
            "the {} runs {count} tasks but the plan has {shards} shards; submit the array with {shards} tasks (0-{})",
            task.engine,
            shards.saturating_sub(1)
        ));
    }
    if task.index >= shards {
        return Err(format!(
            "the {} task index is {} but the plan has {shards} shards (0-{})",
            task.engine,
            task.index,
            shards.saturating_sub(1)
        ));
    }
    Ok(task.index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn slurm_task_as_sbatch_sets_it() {
        // What task 2 of `--array=0-3` saw on this machine's Slurm 22.05.
        let vars = env(&[
            ("SLURM_ARRAY_JOB_ID", "1"),
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "3"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
            ("SLURM_JOB_ID", "5"),
        ]);
        let task = detect(vars).unwrap();
        assert_eq!(
            task,
            EngineTask {
                engine: Engine::Slurm,
                index: 2,
                count: Some(4)
            }
        );
        assert_eq!(check(&task, 4), Ok(2));
        let wrong = check(&task, 8).unwrap_err();
        assert!(
            wrong.contains("runs 4 tasks but the plan has 8 shards"),
            "{wrong}"
        );
    }

    #[test]
    fn slurm_arrays_starting_above_zero_or_stepping_are_offset() {
        let one_based = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(detect(one_based).unwrap().index, 3);
        let stepped = env(&[
            ("SLURM_ARRAY_TASK_ID", "10"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "5"),
        ]);
        assert_eq!(detect(stepped).unwrap().index, 2);
        let below = env(&[("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_MIN", "1")]);
        assert!(
            detect(below)
                .unwrap_err()
                .contains("below SLURM_ARRAY_TASK_MIN")
        );
    }

    #[test]
    fn kubernetes_aws_batch_and_cloud_run() {
        let kubernetes = detect(env(&[("JOB_COMPLETION_INDEX", "7")])).unwrap();
        assert_eq!(
            (kubernetes.engine, kubernetes.index),
            (Engine::Kubernetes, 7)
        );
        assert_eq!(kubernetes.count, None);
        assert_eq!(check(&kubernetes, 8), Ok(7));
        let out_of_range = check(&kubernetes, 4).unwrap_err();
        assert!(out_of_range.contains("index is 7 but the plan has 4 shards"));
        let batch = detect(env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "0")])).unwrap();
        assert_eq!((batch.engine, batch.index), (Engine::AwsBatch, 0));
        let cloud_run = detect(env(&[
            ("CLOUD_RUN_TASK_INDEX", "1"),
            ("CLOUD_RUN_TASK_COUNT", "3"),
        ]))
        .unwrap();
        assert_eq!(cloud_run.count, Some(3));
        assert!(check(&cloud_run, 4).is_err());
    }

    #[test]
    fn missing_or_garbled_variables_are_named() {
        let none = detect(env(&[])).unwrap_err();
        assert!(none.contains("pass --shard K"));
        let garbled = detect(env(&[("JOB_COMPLETION_INDEX", "x")])).unwrap_err();
        assert_eq!(garbled, "JOB_COMPLETION_INDEX=\"x\" is not a task number");
    }
}
