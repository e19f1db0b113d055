//! The AsyncSSH peer of `tests/interop_asyncssh.rs`: the script the tests
//! write into their temporary directory and run, through
//! `support/python.rs` (which finds the Python, `SEKURA_PYTHON` else
//! `target/py-venv/bin/python`, where `.ci/run` installs AsyncSSH next to
//! paramiko, asks what AsyncSSH supports, and runs the script as a client
//! or a server).

use crate::python::PythonPeer;
use std::path::Path;

/// The peer script: `query`, `client ARGS_JSON`, `variants ARGS_JSON` (one
/// connection per algorithm, in one process: starting Python and importing
/// AsyncSSH takes longer than a connection) or `server ARGS_JSON`.
pub const PEER_SCRIPT: &str = r#"
# An AsyncSSH peer for sekura's interop tests: `query`, `client ARGS_JSON`
# or `server ARGS_JSON`. Prints `key=value` lines; exits non-zero on error.
import asyncio, hashlib, json, os, sys
import asyncssh
from asyncssh.connection import SSHConnection

USER = "alice"
PASSWORD = "asyncssh speaks to sekura"

# Counts the key exchanges of this process's connections, and names the
# last key exchange method.
KEXES = [0, "?"]
_send_newkeys = SSHConnection.send_newkeys
def send_newkeys(self, k, h):
    KEXES[0] += 1
    KEXES[1] = getattr(self._kex, "algorithm", b"?").decode()
    return _send_newkeys(self, k, h)
SSHConnection.send_newkeys = send_newkeys

def names(algs):
    # GSS-API key exchanges need Kerberos: not for these tests.
    return [a.decode() for a in algs if not a.startswith(b"gss-")]

def supported():
    return {
        "kex": names(asyncssh.kex.get_kex_algs()),
        "cipher": names(asyncssh.encryption.get_encryption_algs()),
        "mac": names(asyncssh.mac.get_mac_algs()),
        "hostkey": names(asyncssh.public_key.get_public_key_algs()),
    }

def query():
    for k, v in supported().items():
        print("%s=%s" % (k, ",".join(v)))
    print("version=" + asyncssh.__version__)

def algorithm_options(a):
    o = {}
    if a.get("kex"): o["kex_algs"] = [a["kex"]]
    if a.get("cipher"): o["encryption_algs"] = [a["cipher"]]
    if a.get("mac"): o["mac_algs"] = [a["mac"]]
    if a.get("hostkey"): o["server_host_key_algs"] = [a["hostkey"]]
    return o

async def client(a):
    host_keys = [asyncssh.import_public_key(k) for k in a["host_keys"]]
    opts = dict(username=USER, known_hosts=(host_keys, [], []), agent_path=None,
                connect_timeout=60, **algorithm_options(a))
    if a.get("rekey_bytes"): opts["rekey_bytes"] = a["rekey_bytes"]
    if a.get("wrong_password"):
        try:
            async with asyncssh.connect("127.0.0.1", a["port"], password="wrong",
                                        client_keys=None, preferred_auth="password", **opts):
                print("wrong_password=accepted")
        except asyncssh.PermissionDenied:
            print("wrong_password=refused")
    if a["auth"] == "password":
        opts.update(password=PASSWORD, client_keys=None, preferred_auth="password")
    else:
        opts.update(client_keys=[a["auth"]], password=None, preferred_auth="publickey")
    async with asyncssh.connect("127.0.0.1", a["port"], **opts) as conn:
        print("authenticated=%s" % conn.get_extra_info("username"))
        print("kex=%s" % KEXES[1])
        print("cipher=%s,%s" % (conn.get_extra_info("send_cipher"), conn.get_extra_info("recv_cipher")))
        print("mac=%s,%s" % (conn.get_extra_info("send_mac"), conn.get_extra_info("recv_mac")))
        print("hostkey=%s" % conn.get_server_host_key().get_algorithm())
        r = await conn.run("echo hello")
        print("echo=%r,%r,%r" % (r.stdout, r.stderr, r.exit_status))
        r = await conn.run("fail")
        print("fail=%r,%r,%r" % (r.stdout, r.stderr, r.exit_status))
        n = a.get("bytes", 0)
        if n:
            p = await conn.create_process("sha256", encoding=None)
            h = hashlib.sha256(); sent = 0
            start = asyncio.get_running_loop().time()
            while sent < n:
                chunk = os.urandom(min(256 * 1024, n - sent))
                h.update(chunk); p.stdin.write(chunk); sent += len(chunk)
                await p.stdin.drain()
            p.stdin.write_eof()
            remote = (await p.stdout.read()).decode().strip()
            await p.wait()
            print("upload=%s,%s,%r,%.3f" % (h.hexdigest(), remote, p.exit_status,
                                            asyncio.get_running_loop().time() - start))
            p = await conn.create_process("gen %d" % n, encoding=None)
            h = hashlib.sha256(); got = 0
            start = asyncio.get_running_loop().time()
            while True:
                d = await p.stdout.read(1 << 20)
                if not d: break
                h.update(d); got += len(d)
            remote = (await p.stderr.read()).decode().strip()
            await p.wait()
            print("download=%s,%s,%d,%r,%.3f" % (h.hexdigest(), remote, got, p.exit_status,
                                                 asyncio.get_running_loop().time() - start))
        print("kexes=%d" % KEXES[0])
    print("done")

async def variants(a):
    # One connection per algorithm in a["variants"] ([category, name]
    # pairs, with "cipher" fixed to a["mac_cipher"] for MACs), each running
    # `echo NAME`: `variant=CATEGORY NAME KEX CIPHER MAC HOSTKEY ECHO STATUS`.
    host_keys = [asyncssh.import_public_key(k) for k in a["host_keys"]]
    for category, name in a["variants"]:
        b = {category: name}
        if category == "mac": b["cipher"] = a["mac_cipher"]
        opts = dict(username=USER, known_hosts=(host_keys, [], []), agent_path=None,
                    connect_timeout=60, password=PASSWORD, client_keys=None,
                    preferred_auth="password", **algorithm_options(b))
        async with asyncssh.connect("127.0.0.1", a["port"], **opts) as conn:
            r = await conn.run("echo " + name)
            print("variant=%s %s %s %s %s %s %s %r" % (
                category, name, KEXES[1],
                conn.get_extra_info("send_cipher") + "," + conn.get_extra_info("recv_cipher"),
                conn.get_extra_info("send_mac") + "," + conn.get_extra_info("recv_mac"),
                conn.get_server_host_key().get_algorithm(), r.stdout.strip(), r.exit_status),
                flush=True)
    print("done")

async def serve_exec(process):
    name, _, arg = (process.command or "").partition(" ")
    status = 0
    try:
        if name == "echo":
            process.stdout.write((arg + "\n").encode())
        elif name == "fail":
            process.stderr.write(b"something went wrong\n"); status = 3
        elif name == "sha256":
            h = hashlib.sha256()
            while True:
                d = await process.stdin.read(1 << 20)
                if not d: break
                h.update(d)
            process.stdout.write((h.hexdigest() + "\n").encode())
        elif name == "gen":
            n = int(arg); h = hashlib.sha256(); sent = 0
            while sent < n:
                chunk = os.urandom(min(256 * 1024, n - sent))
                h.update(chunk); process.stdout.write(chunk); sent += len(chunk)
                await process.stdout.drain()
            process.stderr.write((h.hexdigest() + "\n").encode())
        else:
            process.stderr.write(b"not found\n"); status = 127
        await process.stdout.drain()
    finally:
        process.exit(status)

class Server(asyncssh.SSHServer):
    def begin_auth(self, username): return True
    def password_auth_supported(self): return True
    def validate_password(self, username, password):
        return username == USER and password == PASSWORD

async def server(a):
    s = supported()
    srv = await asyncssh.create_server(
        Server, "127.0.0.1", 0,
        server_host_keys=a["host_keys"],
        authorized_client_keys=asyncssh.import_authorized_keys("\n".join(a["authorized"]) + "\n"),
        process_factory=serve_exec, encoding=None,
        kex_algs=s["kex"], encryption_algs=s["cipher"], mac_algs=s["mac"],
        rekey_bytes=a.get("rekey_bytes", 1 << 30), login_timeout=60)
    print("port=%d" % srv.sockets[0].getsockname()[1], flush=True)
    await srv.wait_closed()

if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "query": query()
    elif mode == "client": asyncio.run(client(json.loads(sys.argv[2])))
    elif mode == "variants": asyncio.run(variants(json.loads(sys.argv[2])))
    elif mode == "server": asyncio.run(server(json.loads(sys.argv[2])))
"#;

/// Finds Python with AsyncSSH and writes the peer script into `dir`.
pub fn find(dir: &Path) -> Result<PythonPeer, String> {
    PythonPeer::find(dir, "asyncssh", PEER_SCRIPT)
}
