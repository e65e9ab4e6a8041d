//! A real single-node Slurm cluster for the scale-out tests: Debian's munge, slurmctld and
//! slurmd (installed by `scripts/setup.sh --test`), started without systemd with their own key,
//! socket, configuration and state in a temporary folder, and stopped by the PIDs this helper
//! recorded (with each process's start time, so a recycled PID is never signalled). Nothing
//! else is touched: no /etc/slurm, no system munged.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A daemon this helper started: its PID and the start time the kernel gave it.
struct Daemon {
    name: &'static str,
    child: Child,
    started: Option<String>,
}

/// Field 22 of /proc/PID/stat (start time in clock ticks), and the state (field 3).
fn stat(pid: u32) -> Option<(char, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Some((fields.first()?.chars().next()?, fields.get(19)?.to_string()))
}

impl Daemon {
    fn start(name: &'static str, command: &mut Command, log: &Path) -> Daemon {
        let file = std::fs::File::create(log).expect("daemon log");
        let child = command
            .stdout(file.try_clone().expect("daemon log"))
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e} (run scripts/setup.sh --test)"));
        let started = stat(child.id()).map(|(_, start)| start);
        Daemon {
            name,
            child,
            started,
        }
    }

    /// Still ours and alive (a zombie counts as stopped).
    fn running(&self) -> bool {
        match stat(self.child.id()) {
            Some((state, start)) => state != 'Z' && Some(start) == self.started,
            None => false,
        }
    }

    /// TERM, then KILL after 10 s; only while the PID is still this process.
    fn stop(&mut self) {
        if self.running() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.running() && Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.running() {
            eprintln!("{} did not stop on TERM; killing it", self.name);
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A running single-node cluster; stopped (jobs cancelled, daemons stopped) on drop.
pub struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
    /// slurmd, slurmctld, munged: stopped in this order.
    daemons: Vec<Daemon>,
}

/// How long a job may take before a test gives up on it.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(300);

impl Cluster {
    /// Starts munged, slurmctld and slurmd, and waits until the node is idle.
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("cluster folder");
        let root = dir.path();
        for sub in [
            "munge/key",
            "munge/run",
            "state",
            "spool/slurmd",
            "run",
            "log",
        ] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        let mode = |path: &Path, mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        mode(&root.join("munge/key"), 0o700);
        mode(&root.join("munge/run"), 0o755);
        let key = root.join("munge/key/munge.key");
        let mut bytes = vec![0u8; 1024];
        {
            use std::io::Read;
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut bytes))
                .expect("random munge key");
        }
        std::fs::write(&key, &bytes).unwrap();
        mode(&key, 0o400);
        let socket = root.join("munge/run/munge.socket");
        let mut daemons = Vec::new();
        let mut munged = Command::new("munged");
        munged
            .args(["--foreground", "--force"])
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--key-file={}", key.display()))
            .arg(format!(
                "--pid-file={}",
                root.join("munge/run/munged.pid").display()
            ))
            .arg(format!("--seed-file={}", root.join("munge/seed").display()));
        daemons.push(Daemon::start(
            "munged",
            &mut munged,
            &root.join("log/munged.log"),
        ));
        wait_for("munge socket", Duration::from_secs(10), || socket.exists());

        let host = String::from_utf8(Command::new("hostname").arg("-s").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        let conf = root.join("slurm.conf");
        let (ctld_port, slurmd_port) = (free_port(), free_port());
        std::fs::write(&conf, config(root, &host, &socket, ctld_port, slurmd_port)).unwrap();
        let mut ctld = Command::new("slurmctld");
        ctld.args(["-D", "-c", "-f"]).arg(&conf);
        daemons.push(Daemon::start(
            "slurmctld",
            &mut ctld,
            &root.join("log/slurmctld.out"),
        ));
        let mut slurmd = Command::new("slurmd");
        slurmd.args(["-D", "-f"]).arg(&conf).args(["-N", &host]);
        daemons.push(Daemon::start(
            "slurmd",
            &mut slurmd,
            &root.join("log/slurmd.out"),
        ));
        daemons.reverse();
        let cluster = Cluster { dir, conf, daemons };
        wait_for("the Slurm node to be idle", Duration::from_secs(30), || {
            let out = cluster.command("sinfo").args(["-h", "-o", "%t"]).output();
            out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        });
        cluster
    }

    /// A command (`sbatch`, `squeue`, a submit script...) talking to this cluster, run in the
    /// cluster's folder (where jobs write their logs).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("SLURM_CONF", &self.conf)
            .current_dir(self.dir.path().join("log"));
        command
    }

    /// Runs a client command, failing the test when it fails.
    pub fn run(&self, command: &mut Command) -> Output {
        let output = command.output().expect("Slurm client");
        assert!(
            output.status.success(),
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// `scontrol show job ID -o`: one line per job (per task of an array); empty when Slurm
    /// cannot be asked.
    fn show_job(&self, id: &str) -> String {
        let output = self
            .command("scontrol")
            .args(["show", "job", id, "-o"])
            .output();
        output
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// `scontrol show job ID` as key=value pairs (the first record, for array tasks).
    pub fn job(&self, id: &str) -> Vec<(String, String)> {
        self.show_job(id)
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A field of [`Cluster::job`].
    pub fn job_field(&self, id: &str, field: &str) -> String {
        self.job(id)
            .into_iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    /// States of every task of job `id` (one per array task).
    pub fn states(&self, id: &str) -> Vec<String> {
        self.show_job(id)
            .lines()
            .filter_map(|line| {
                line.split_whitespace()
                    .find_map(|pair| pair.strip_prefix("JobState="))
                    .map(str::to_string)
            })
            .collect()
    }

    /// Waits until every task of job `id` has ended (COMPLETING is not yet ended); returns
    /// their final states.
    pub fn wait(&self, id: &str) -> Vec<String> {
        self.wait_polling(id, Duration::from_millis(50))
    }

    /// [`Cluster::wait`], asking Slurm every `every`: each question is a client process, a
    /// munge credential and an RPC, so a benchmark asks seldom.
    pub fn wait_polling(&self, id: &str, every: Duration) -> Vec<String> {
        const ENDED: [&str; 9] = [
            "COMPLETED",
            "FAILED",
            "CANCELLED",
            "TIMEOUT",
            "OUT_OF_MEMORY",
            "NODE_FAIL",
            "PREEMPTED",
            "BOOT_FAIL",
            "DEADLINE",
        ];
        let deadline = Instant::now() + JOB_TIMEOUT;
        loop {
            let states = self.states(id);
            if !states.is_empty() && states.iter().all(|s| ENDED.contains(&s.as_str())) {
                return states;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} still {states:?} after {JOB_TIMEOUT:?}\n{}",
                self.logs()
            );
            std::thread::sleep(every);
        }
    }

    /// The daemons' logs, for failure messages.
    pub fn logs(&self) -> String {
        ["slurmctld.log", "slurmd.log"]
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(self.dir.path().join("log").join(name));
                let text = text.unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("--- {name} ---\n{}\n", tail.join("\n"))
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Jobs first (their processes are children of slurmd), then the daemons by PID.
        let _ = self
            .command("scancel")
            .arg("--full")
            .arg("--user=root")
            .output();
        wait_for("jobs to end", Duration::from_secs(10), || {
            let out = self.command("squeue").args(["-h"]).output();
            out.is_ok_and(|o| o.stdout.is_empty())
        });
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        for daemon in &mut self.daemons {
            daemon.stop();
        }
    }
}

/// Polls `ready` until it holds or `limit` passes (then fails the test, naming `what`).
fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        if Instant::now() > deadline {
            if std::thread::panicking() {
                return;
            }
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> u16 {
    crate::emulators::free_port()
}

/// slurm.conf of a one-node cluster under `root` (after ../shared/notes/slurm.md).
fn config(root: &Path, host: &str, socket: &Path, ctld_port: u16, slurmd_port: u16) -> String {
    let r = root.display();
    // The node advertises its 2 cores as 2 CPUs and binds each task to the CPUs it was given
    // (task/affinity; no cgroups needed), as a real cluster would: a task of
    // `--cpus-per-task=1` sees one CPU and runs one worker thread.
    format!(
        "ClusterName=ci
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
MailProg=/bin/true
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={socket}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool/slurmd
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
SchedulerParameters=batch_sched_delay=0
MaxArraySize=10001
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 Sockets=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=4000
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
",
        socket = socket.display()
    )
}
