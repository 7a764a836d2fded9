//! A real one-node Slurm cluster for a test: Debian's `slurm-wlm` and `munge`, started from a
//! temporary folder (its own munge key and socket, a generated slurm.conf on free ports, state
//! and spool inside), stopped when the guard drops, also when the test fails. `.ci/run`
//! installs the packages and sets NSS_REQUIRE_SLURM, so the tests cannot pass by skipping there.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running one-node cluster; its daemons are stopped when it drops.
pub struct Cluster {
    dir: tempfile::TempDir,
    daemons: Vec<Child>,
}

impl Cluster {
    /// Starts a cluster of one node with 2 CPUs, or `None` (the test skips) where Slurm is not
    /// installed or this is not root; panics there when CI requires Slurm.
    pub fn start() -> Option<Cluster> {
        let installed = ["slurmctld", "slurmd", "munged", "sbatch"].iter().all(|p| which(p).is_some());
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !installed || !root {
            assert!(
                std::env::var_os("NSS_REQUIRE_SLURM").is_none(),
                "Slurm is required (NSS_REQUIRE_SLURM) but slurmctld, slurmd, munged or sbatch is missing, or this is not root"
            );
            eprintln!("skipped: a test Slurm cluster needs slurm-wlm and munge (apt install slurm-wlm munge) and root");
            return None;
        }
        let dir = tempfile::Builder::new().prefix("slurm").tempdir().unwrap();
        let mut cluster = Cluster { dir, daemons: Vec::new() };
        cluster.start_munge();
        cluster.write_conf();
        let conf = cluster.conf();
        cluster.spawn(Command::new(which("slurmctld").unwrap()).args(["-D", "-i", "-f"]).arg(&conf), "slurmctld");
        cluster.spawn(Command::new(which("slurmd").unwrap()).args(["-D", "-N", "nss-node", "-f"]).arg(&conf), "slurmd");
        cluster.wait_idle();
        Some(cluster)
    }

    /// The slurm.conf every Slurm command of this cluster needs (as SLURM_CONF).
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }

    /// A Slurm command (sbatch, scancel, squeue...) talking to this cluster.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("SLURM_CONF", self.conf());
        cmd
    }

    /// The state of every job of the cluster, as `squeue` tells it ("1_0 RUNNING", ...).
    pub fn queue(&self) -> String {
        let out = self.command("squeue").args(["-h", "-o", "%i %T"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The daemons' logs, for a failing test's message.
    pub fn logs(&self) -> String {
        ["slurmctld.log", "slurmd.log"]
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(20).collect();
                format!("--- {name}\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn start_munge(&mut self) {
        let munge = self.dir.path().join("munge");
        std::fs::create_dir(&munge).unwrap();
        let key = munge.join("munge.key");
        let bytes: Vec<u8> = (0..1024).map(|_| rand::random::<u8>()).collect();
        std::fs::write(&key, bytes).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
        let mut cmd = Command::new(which("munged").unwrap());
        cmd.arg("--foreground")
            .arg("--force")
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--socket={}", munge.join("socket").display()))
            .arg(format!("--pid-file={}", munge.join("munged.pid").display()))
            .arg(format!("--log-file={}", munge.join("munged.log").display()))
            .arg(format!("--seed-file={}", munge.join("munged.seed").display()));
        self.spawn(&mut cmd, "munged");
        let socket = munge.join("socket");
        wait_for(Duration::from_secs(10), "munged's socket", || socket.exists());
    }

    fn write_conf(&self) {
        let d = self.dir.path();
        let p = |name: &str| d.join(name).display().to_string();
        for sub in ["state", "spool"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        let memory_mb = memory_mb() / 2;
        let conf = format!(
            "ClusterName=nss-test\n\
             SlurmctldHost=localhost\n\
             SlurmctldPort={ctld}\n\
             SlurmdPort={slurmd}\n\
             AuthType=auth/munge\n\
             AuthInfo=socket={socket}\n\
             CredType=cred/munge\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             StateSaveLocation={state}\n\
             SlurmdSpoolDir={spool}\n\
             SlurmctldPidFile={ctld_pid}\n\
             SlurmdPidFile={slurmd_pid}\n\
             SlurmctldLogFile={ctld_log}\n\
             SlurmdLogFile={slurmd_log}\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_CPU_Memory\n\
             MpiDefault=none\n\
             ReturnToService=2\n\
             KillWait=5\n\
             MailProg=/bin/true\n\
             JobCompType=jobcomp/none\n\
             AccountingStorageType=accounting_storage/none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             NodeName=nss-node NodeAddr=127.0.0.1 CPUs=2 RealMemory={memory_mb} State=UNKNOWN\n\
             PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
            ctld = free_port(),
            slurmd = free_port(),
            socket = d.join("munge").join("socket").display(),
            state = p("state"),
            spool = p("spool"),
            ctld_pid = p("slurmctld.pid"),
            slurmd_pid = p("slurmd.pid"),
            ctld_log = p("slurmctld.log"),
            slurmd_log = p("slurmd.log"),
        );
        std::fs::write(self.conf(), conf).unwrap();
    }

    fn spawn(&mut self, cmd: &mut Command, name: &str) {
        cmd.env("SLURM_CONF", self.conf()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; it asks for SIGTERM should this test die first.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.daemons.push(child);
    }

    fn wait_idle(&self) {
        let started = Instant::now();
        loop {
            let out = self.command("sinfo").args(["-h", "-o", "%T"]).output().unwrap();
            if String::from_utf8_lossy(&out.stdout).trim() == "idle" {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the test cluster did not start:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Jobs first (their processes belong to slurmd), then the daemons, the newest first.
        let _ = self.command("scancel").args(["--full", "--user", "root"]).output();
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.queue().trim().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        for child in self.daemons.iter_mut().rev() {
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: signalling our own child process.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until `done`, at most `limit`.
pub fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A port free now on the loopback (the daemons bind it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn memory_mb() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(4 << 20);
    kb / 1024
}
