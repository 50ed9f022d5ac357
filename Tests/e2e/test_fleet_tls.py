"""Redis over TLS (README "Fleet", `experiment_state: rediss://...`): a CA and certificates made with
the openssl CLI, a real redis-server with only a TLS port, replicas that verify its certificate
against the CA (and, for mutual TLS, present their own). Shows the counts in Redis equal the client's
ground truth, that a wrong CA or a wrong host name is refused with a message naming them, that
missing files stop the start, and --print-config."""
import socket
import ssl
import subprocess

import pytest

from conftest import BINARY, free_port
from experiment_tools import eventually
from fleet_tools import REDIS_SERVER, Fleet, Redis, state
from test_fleet import FIXED, Client, assert_reports_equal_truth


def openssl(*args, cwd):
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def make_ca(folder, name):
    """A self-signed CA: folder/name.crt and folder/name.key."""
    folder.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=folder)
    return folder / f"{name}.crt", folder / f"{name}.key"


def make_certificate(folder, name, ca, extension):
    """folder/name.crt signed by `ca` ((crt, key)), with `extension` (e.g. subjectAltName), and its key."""
    (folder / f"{name}.ext").write_text(extension + "\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", cwd=folder)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
            "-days", "2", "-out", f"{name}.crt", "-extfile", f"{name}.ext", cwd=folder)
    return folder / f"{name}.crt", folder / f"{name}.key"


@pytest.fixture
def pki(tmp_path):
    folder = tmp_path / "pki"
    ca = make_ca(folder, "ca")
    other_ca = make_ca(folder, "other-ca")
    server = make_certificate(folder, "server", ca, "subjectAltName=IP:127.0.0.1")
    client = make_certificate(folder, "client", ca, "extendedKeyUsage=clientAuth")
    return dict(ca=ca[0], other_ca=other_ca[0], server=server, client=client)


class TLSRedis(Redis):
    """redis-server with only a TLS port (--port 0 --tls-port N), the server certificate for 127.0.0.1;
    `auth_clients` asks for a client certificate chained to the CA (mutual TLS)."""

    def __init__(self, folder, pki, auth_clients=False):
        self.pki = pki
        self.auth_clients = auth_clients
        super().__init__(folder)

    def start(self):
        self.log = open(self.folder / "redis.log", "a")
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
             "--tls-cert-file", str(self.pki["server"][0]), "--tls-key-file", str(self.pki["server"][1]),
             "--tls-ca-cert-file", str(self.pki["ca"]), "--tls-auth-clients", "yes" if self.auth_clients else "no",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder), "--dbfilename", "dump.rdb"],
            stdout=self.log, stderr=subprocess.STDOUT)
        eventually(lambda: self.ping(), timeout=10, what="redis-server to answer PING over TLS")

    @property
    def url(self):
        return f"rediss://127.0.0.1:{self.port}/0"

    def command(self, *args):
        payload = f"*{len(args)}\r\n".encode() + b"".join(
            f"${len(str(a).encode())}\r\n".encode() + str(a).encode() + b"\r\n" for a in args)
        context = ssl.create_default_context(cafile=str(self.pki["ca"]))
        context.load_cert_chain(str(self.pki["client"][0]), str(self.pki["client"][1]))
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as plain:
            with context.wrap_socket(plain, server_hostname="127.0.0.1") as connection:
                connection.sendall(payload)
                return connection.recv(1 << 16)

    def ping(self):
        try:
            return self.command("PING").startswith(b"+PONG")
        except (OSError, ssl.SSLError):
            return False


@pytest.fixture
def stack(tmp_path, pki):
    made = []

    def start(auth_clients=False, size=2, **tls):
        redis = TLSRedis(tmp_path / "redis", pki, auth_clients=auth_clients)
        made.append(redis)
        args = []
        for key, value in tls.items():
            args += [f"--experiment-state-tls-{key}", str(value)]
        fleet = Fleet(tmp_path, redis, {"default_model": "base", "experiments": [FIXED]},
                      size=size, extra_args=args)
        made.append(fleet)
        return redis, fleet

    yield start
    for thing in reversed(made):
        thing.stop()


def run_client(fleet, calls=120, seed=3):
    client = Client(fleet, seed=seed, delay=4)
    for index in range(calls):
        client.recommend(index)
        client.due(index)
    client.finish()
    assert client.failed_recommends == 0
    assert client.sent > 10
    return client


def test_replicas_over_tls_count_recommend_and_feedback_in_redis(stack, pki):
    redis, fleet = stack(ca=pki["ca"])
    client = run_client(fleet)
    assert_reports_equal_truth(fleet, client.truth)
    for replica in fleet.replicas:
        shared = state(replica)
        assert (shared.kind, shared.address, shared.reachable, shared.dropped) == ("redis", redis.url, True, 0)
    # The counts live in Redis itself (read here over TLS): Feedback went to the other replica.
    keys = redis.command("KEYS", f"{fleet.prefix}*")
    assert fleet.prefix.encode() in keys, keys


def test_mutual_tls_with_a_client_certificate(stack, pki):
    redis, fleet = stack(auth_clients=True, ca=pki["ca"], cert=pki["client"][0], key=pki["client"][1])
    client = run_client(fleet, calls=60, seed=7)
    assert_reports_equal_truth(fleet, client.truth)


def test_mutual_tls_without_a_client_certificate_is_refused(stack, pki):
    redis, fleet = stack(auth_clients=True, size=1, ca=pki["ca"])
    replica = fleet.replicas[0]
    shared = eventually(lambda: (lambda s: not s.reachable and s.last_error and s)(state(replica)),
                        what="the replica to report Redis unreachable")
    # TLS 1.3: the server refuses the missing certificate after the handshake, by closing the connection.
    assert f"127.0.0.1:{redis.port}" in shared.last_error, shared.last_error
    assert "client certificate" in shared.last_error, shared.last_error


def test_a_wrong_ca_is_refused_with_a_message_naming_the_ca_and_host(stack, pki):
    redis, fleet = stack(size=1, ca=pki["other_ca"])
    replica = fleet.replicas[0]
    shared = eventually(lambda: (lambda s: not s.reachable and s.last_error and s)(state(replica)),
                        what="the replica to report Redis unreachable")
    assert "certificate was rejected" in shared.last_error, shared.last_error
    assert str(pki["other_ca"]) in shared.last_error and f"127.0.0.1:{redis.port}" in shared.last_error
    assert "unreachable at start" in replica.logs() and str(pki["other_ca"]) in replica.logs()


def test_a_certificate_for_another_host_is_refused(tmp_path, pki):
    redis = TLSRedis(tmp_path / "redis", pki)
    try:
        # The server's certificate names IP 127.0.0.1 only, not "localhost".
        done = start_failing_or_status(tmp_path, [
            "--experiment-state", f"rediss://localhost:{redis.port}/0", "--experiment-state-tls-ca", str(pki["ca"])])
        assert "certificate was rejected" in done and "mismatch" in done and "localhost" in done, done
    finally:
        redis.stop()


def start_failing_or_status(tmp_path, args):
    """The state's last error from a single sidecar started with `args`."""
    from conftest import Sidecar
    from experiment_tools import experiments_store, write_experiments
    experiments = write_experiments(tmp_path / "experiments.yaml", {"default_model": "base", "experiments": [FIXED]})
    sidecar = Sidecar(experiments_store(tmp_path), default_model="base",
                      extra_args=("--experiments", str(experiments), *args))
    try:
        shared = eventually(lambda: (lambda s: not s.reachable and s.last_error and s)(state(sidecar)),
                            what="the replica to report Redis unreachable")
        return shared.last_error
    finally:
        sidecar.stop()


@pytest.mark.parametrize("flag", ["ca", "cert"])
def test_missing_tls_files_stop_the_start_naming_the_file(tmp_path, pki, flag):
    from experiment_tools import experiments_store, write_experiments
    experiments = write_experiments(tmp_path / "experiments.yaml", {"default_model": "base", "experiments": [FIXED]})
    missing = tmp_path / "nowhere.pem"
    files = {"ca": ["--experiment-state-tls-ca", str(missing)],
             "cert": ["--experiment-state-tls-ca", str(pki["ca"]), "--experiment-state-tls-cert", str(missing),
                      "--experiment-state-tls-key", str(pki["client"][1])]}[flag]
    done = subprocess.run([BINARY, "--listen", f"127.0.0.1:{free_port()}", "--admin-listen", f"127.0.0.1:{free_port()}",
                           "--metrics-listen", "", "--store", str(experiments_store(tmp_path)), "--default-model", "base",
                           "--experiments", str(experiments), "--experiment-state", f"rediss://127.0.0.1:{free_port()}/0",
                           *files], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert str(missing) in done.stderr + done.stdout and "does not exist" in done.stderr + done.stdout, done.stderr


def test_print_config_shows_the_tls_keys_and_checks_them(tmp_path, pki):
    done = subprocess.run([BINARY, "--print-config", "--experiment-state", "rediss://10.0.0.5:6380/2",
                           "--experiment-state-tls-ca", str(pki["ca"]), "--experiment-state-tls-cert", "c.pem",
                           "--experiment-state-tls-key", "k.pem"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert 'experiment_state: "rediss://10.0.0.5:6380/2"' in done.stdout, done.stdout
    assert f'experiment_state_tls_ca: "{pki["ca"]}"' in done.stdout
    assert 'experiment_state_tls_cert: "c.pem"' in done.stdout and 'experiment_state_tls_key: "k.pem"' in done.stdout
    wrong = subprocess.run([BINARY, "--print-config", "--experiment-state", "redis://127.0.0.1:6379/0",
                            "--experiment-state-tls-ca", str(pki["ca"])], capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0 and "experiment_state_tls_ca is set but experiment_state is not rediss://" in wrong.stderr
    half = subprocess.run([BINARY, "--print-config", "--experiment-state", "rediss://127.0.0.1:6379/0",
                           "--experiment-state-tls-cert", "c.pem"], capture_output=True, text=True, timeout=60)
    assert half.returncode != 0 and "experiment_state_tls_key" in half.stderr, half.stderr
