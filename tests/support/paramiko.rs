//! Helpers for the paramiko interop tests (`tests/interop_paramiko.rs`),
//! on top of `support/mod.rs` and `support/session.rs`: finding a Python
//! with paramiko (`SEKURA_PYTHON`, else `target/py-venv/bin/python`), the
//! peer script the tests write into their temporary directory, and the
//! paramiko server process (killed when dropped).

use crate::session::{Ran, run_with_deadline};
use crate::support::KillOnDrop;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The variable naming the Python interpreter that has paramiko.
pub const PYTHON_VAR: &str = "SEKURA_PYTHON";

/// The peer script: `query`, `client JSON` or `server JSON`.
pub const PEER_SCRIPT: &str = r#"
# A paramiko peer for sekura's interop tests: `query`, `client ARGS_JSON`
# or `server ARGS_JSON`. Prints `key=value` lines; exits non-zero on error.
import hashlib, json, os, socket, sys, threading, time
import paramiko

USER = "alice"
PASSWORD = "correct horse battery staple"

def restrict(t, a):
    so = t.get_security_options()
    if a.get("kex"): so.kex = (a["kex"],)
    if a.get("cipher"): so.ciphers = (a["cipher"],)
    if a.get("mac"): so.digests = (a["mac"],)
    if a.get("hostkey"): so.key_types = (a["hostkey"],)

def negotiated(t, kex):
    print("kex=%s" % kex)
    print("cipher=%s,%s" % (t.local_cipher, t.remote_cipher))
    print("mac=%s,%s" % (t.local_mac, t.remote_mac))
    print("hostkey=%s" % t.host_key_type)

def query():
    T = paramiko.Transport
    print("kex=" + ",".join(T._kex_info))
    print("cipher=" + ",".join(T._cipher_info))
    print("mac=" + ",".join(T._mac_info))
    print("hostkey=" + ",".join(T._preferred_keys))
    print("version=" + paramiko.__version__)

def client(a):
    sock = socket.create_connection(("127.0.0.1", a["port"]), timeout=60)
    t = paramiko.Transport(sock)
    restrict(t, a)
    kexes = [0]
    inbound = t._activate_inbound
    def count():
        kexes[0] += 1
        kexes.append(getattr(t.kex_engine, "name", "?"))
        inbound()
    t._activate_inbound = count
    t.start_client(timeout=60)
    key = t.get_remote_server_key()
    if "%s %s" % (key.get_name(), key.get_base64()) != a["host_key"]:
        print("host key mismatch: %s %s" % (key.get_name(), key.get_base64()))
        sys.exit(2)
    if a.get("wrong_password"):
        try:
            t.auth_password(USER, "wrong")
            print("wrong_password=accepted")
        except paramiko.AuthenticationException:
            print("wrong_password=refused")
    if a["auth"] == "password":
        t.auth_password(USER, PASSWORD)
    else:
        t.auth_publickey(USER, paramiko.PKey.from_path(a["auth"]))
    print("authenticated=%s" % t.is_authenticated())
    negotiated(t, kexes[-1])

    def run(cmd):
        ch = t.open_session()
        ch.exec_command(cmd)
        ch.shutdown_write()
        out = ch.makefile("rb").read()
        err = ch.makefile_stderr("rb").read()
        return out, err, ch.recv_exit_status()

    out, err, st = run("echo hello")
    print("echo=%r,%r,%d" % (out, err, st))
    out, err, st = run("fail")
    print("fail=%r,%r,%d" % (out, err, st))
    n = a.get("bytes", 0)
    if n:
        ch = t.open_session()
        ch.exec_command("sha256")
        h = hashlib.sha256()
        start = time.time()
        sent = 0
        while sent < n:
            chunk = os.urandom(min(256 * 1024, n - sent))
            h.update(chunk)
            ch.sendall(chunk)
            sent += len(chunk)
        ch.shutdown_write()
        remote = ch.makefile("rb").read().decode().strip()
        print("upload=%s,%s,%d,%.3f" % (h.hexdigest(), remote, ch.recv_exit_status(), time.time() - start))
        ch = t.open_session()
        ch.exec_command("gen %d" % n)
        ch.shutdown_write()
        h = hashlib.sha256()
        got = 0
        start = time.time()
        while True:
            d = ch.recv(1 << 20)
            if not d: break
            h.update(d)
            got += len(d)
        remote = ch.makefile_stderr("rb").read().decode().strip()
        print("download=%s,%s,%d,%d,%.3f" % (h.hexdigest(), remote, got, ch.recv_exit_status(), time.time() - start))
    print("kexes=%d" % kexes[0])
    t.close()
    print("done")

def serve_exec(ch, cmd):
    # paramiko replies to the exec request after this handler returns:
    # closing the channel before that would race the reply.
    time.sleep(0.05)
    try:
        name, _, arg = cmd.partition(" ")
        status = 0
        if name == "echo":
            ch.sendall((arg + "\n").encode())
        elif name == "fail":
            ch.sendall_stderr(b"something went wrong\n"); status = 3
        elif name == "sha256":
            h = hashlib.sha256()
            while True:
                d = ch.recv(1 << 20)
                if not d: break
                h.update(d)
            ch.sendall((h.hexdigest() + "\n").encode())
        elif name == "gen":
            n = int(arg); h = hashlib.sha256(); sent = 0
            while sent < n:
                chunk = os.urandom(min(256 * 1024, n - sent))
                h.update(chunk); ch.sendall(chunk); sent += len(chunk)
            ch.sendall_stderr((h.hexdigest() + "\n").encode())
        else:
            ch.sendall_stderr(b"not found\n"); status = 127
        ch.send_exit_status(status)
    finally:
        ch.close()

class Handler(paramiko.ServerInterface):
    def __init__(self, authorized):
        self.authorized = authorized
    def get_allowed_auths(self, user):
        return "password,publickey"
    def check_auth_password(self, user, password):
        ok = user == USER and password == PASSWORD
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED
    def check_auth_publickey(self, user, key):
        ok = user == USER and "%s %s" % (key.get_name(), key.get_base64()) in self.authorized
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED
    def check_channel_request(self, kind, chanid):
        if kind == "session": return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
    def check_channel_exec_request(self, ch, command):
        threading.Thread(target=serve_exec, args=(ch, command.decode()), daemon=True).start()
        return True

def server(a):
    host_keys = [paramiko.PKey.from_path(p) for p in a["host_keys"]]
    lsock = socket.socket(); lsock.bind(("127.0.0.1", 0)); lsock.listen(16)
    print("port=%d" % lsock.getsockname()[1], flush=True)
    while True:
        conn, _ = lsock.accept()
        t = paramiko.Transport(conn)
        restrict(t, a)
        for k in host_keys: t.add_server_key(k)
        t.load_server_moduli()
        t.start_server(server=Handler(a["authorized"]))

if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "query": query()
    elif mode == "client": client(json.loads(sys.argv[2]))
    elif mode == "server": server(json.loads(sys.argv[2]))
"#;

/// A Python interpreter with paramiko, and the peer script written out.
pub struct Paramiko {
    /// The interpreter.
    pub python: PathBuf,
    /// The peer script, in the test's temporary directory.
    pub script: PathBuf,
    /// paramiko's version.
    pub version: String,
    /// What paramiko supports, by category (`kex`, `cipher`, `mac`,
    /// `hostkey`).
    pub supported: HashMap<String, Vec<String>>,
}

impl Paramiko {
    /// Finds Python with paramiko and writes the script into `dir`.
    pub fn find(dir: &Path) -> Result<Paramiko, String> {
        let python = std::env::var_os(PYTHON_VAR).map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py-venv/bin/python"),
            PathBuf::from,
        );
        if !python.is_file() {
            return Err(format!(
                "no Python with paramiko: {} does not exist (set {PYTHON_VAR}, or: \
                 python3 -m venv target/py-venv && target/py-venv/bin/pip install paramiko)",
                python.display()
            ));
        }
        let script = dir.join("paramiko_peer.py");
        std::fs::write(&script, PEER_SCRIPT).map_err(|e| format!("writing the script: {e}"))?;
        let mut command = Command::new(&python);
        command.arg(&script).arg("query");
        let ran = run_with_deadline(command, b"", Duration::from_secs(30))?;
        if ran.code() != Some(0) {
            return Err(format!(
                "paramiko is not usable with {}: {ran}",
                python.display()
            ));
        }
        let mut supported = HashMap::new();
        let mut version = String::new();
        for line in ran.stdout_text().lines() {
            if let Some((key, value)) = line.split_once('=') {
                if key == "version" {
                    version = value.to_string();
                } else {
                    supported.insert(
                        key.to_string(),
                        value.split(',').map(String::from).collect(),
                    );
                }
            }
        }
        Ok(Paramiko {
            python,
            script,
            version,
            supported,
        })
    }

    /// What paramiko supports in `category`.
    pub fn supports(&self, category: &str) -> Vec<String> {
        self.supported.get(category).cloned().unwrap_or_default()
    }

    /// Runs the script as a client with `args` (a JSON object).
    pub fn client(&self, args: &str, timeout: Duration) -> Ran {
        let mut command = Command::new(&self.python);
        command.arg(&self.script).arg("client").arg(args);
        run_with_deadline(command, b"", timeout).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts the script as a server with `args` (a JSON object): the
    /// process and the port it listens on. Its stderr goes to `log`.
    pub fn server(&self, args: &str, log: &Path) -> Result<(KillOnDrop, u16), String> {
        let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let child = Command::new(&self.python)
            .arg(&self.script)
            .arg("server")
            .arg(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("starting the paramiko server: {e}"))?;
        let mut process = KillOnDrop::new(child, "paramiko server");
        let stdout = process.child().stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let port = line
            .trim()
            .strip_prefix("port=")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("the paramiko server printed {line:?}"))?;
        Ok((process, port))
    }
}

/// `value` as a JSON string.
pub fn json_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `key=value` lines of the client's output.
pub fn fields(ran: &Ran) -> HashMap<String, String> {
    ran.stdout_text()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
