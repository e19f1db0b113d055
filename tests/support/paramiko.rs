//! The paramiko peer of `tests/interop_paramiko.rs`: the script the tests
//! write into their temporary directory and run, through
//! `support/python.rs` (which finds the Python, `SEKURA_PYTHON` else
//! `target/py-venv/bin/python`, and runs the script as a client or a
//! server).

use crate::python::PythonPeer;
use std::path::Path;

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

/// Finds Python with paramiko and writes the peer script into `dir`.
pub fn find(dir: &Path) -> Result<PythonPeer, String> {
    PythonPeer::find(dir, "paramiko", PEER_SCRIPT)
}
