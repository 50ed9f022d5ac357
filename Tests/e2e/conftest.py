"""End-to-end harness: builds Python stubs from protos/, starts the real
recsys-sidecar binary on a free port and talks to it with grpcio."""
import os
import pathlib
import subprocess
import sys
import tempfile
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("RECSYS_SIDECAR", str(ROOT / ".build/release/recsys-sidecar"))
PLUGINS_DIR = os.environ.get("RECSYS_PLUGINS_DIR", str(ROOT / ".build/plugins"))
CTL = os.environ.get("RECSYSCTL", str(pathlib.Path(BINARY).parent / "recsysctl"))
GOLDEN = ROOT / "Tests/Fixtures/golden"


from proto_stubs import generate_stubs  # noqa: E402  (tools/, installed with `pip install -e tools`)
from recsys_tools import free_port  # noqa: E402,F401  (the tests import it from here)
from recsys_tools.sidecar import SidecarProcess  # noqa: E402

generate_stubs()
from recsys.v1 import admin_pb2, admin_pb2_grpc, recommender_pb2, recommender_pb2_grpc  # noqa: E402


def admin_target(admin_listen: str) -> str:
    """Where a client on this machine reaches an admin listener: 0.0.0.0/[::] binds via loopback."""
    for wildcard in ("0.0.0.0:", "[::]:"):
        if admin_listen.startswith(wildcard):
            return "127.0.0.1:" + admin_listen[len(wildcard):]
    return admin_listen


class Sidecar:
    """One running sidecar process and a channel to it.

    admin_listen: the ModelAdmin address (default a free loopback port); admin_token: passed with
    --admin-token and sent by models()/reload()/ctl(); credentials: grpc.ChannelCredentials for a
    TLS listener; metrics_listen: the Prometheus endpoint (default a free loopback port, "" for none)."""

    def __init__(self, store, default_model="mlp", plugins=PLUGINS_DIR, extra_args=(), wait_serving=True,
                 poll_interval=0, admin_listen=None, admin_token=None, credentials=None, metrics_listen=None):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.admin_address = admin_target(admin_listen or f"127.0.0.1:{free_port()}")
        self.admin_token = admin_token
        self.metrics_address = f"127.0.0.1:{free_port()}" if metrics_listen is None else metrics_listen
        args = [BINARY, "--listen", self.address, "--admin-listen", admin_listen or self.admin_address,
                "--store", str(store), "--plugins", str(plugins), "--default-model", default_model,
                "--poll-interval", str(poll_interval), "--metrics-listen", self.metrics_address,
                *(["--admin-token", admin_token] if admin_token else []),
                *extra_args]
        self.running = SidecarProcess(args, pathlib.Path(tempfile.mkstemp(prefix="sidecar-", suffix=".log")[1]))
        self.process, self.log_path = self.running.process, self.running.log_path
        self.channel = (grpc.secure_channel(self.address, credentials) if credentials
                        else grpc.insecure_channel(self.address))
        self.stub = recommender_pb2_grpc.RecommenderStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)
        self.admin_channel = grpc.insecure_channel(self.admin_address)
        self.admin = admin_pb2_grpc.ModelAdminStub(self.admin_channel)
        self._wait_until_listening(serving=wait_serving)

    def admin_metadata(self):
        return [("authorization", f"Bearer {self.admin_token}")] if self.admin_token else None

    def _wait_until_listening(self, serving, timeout=30.0):
        def ready():
            status = self.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1).status
            return not serving or status == health_pb2.HealthCheckResponse.SERVING
        try:
            self.running.wait_until(ready, timeout)
        except RuntimeError as error:
            raise AssertionError(str(error)) from None

    def recommend(self, timeout=10, **fields):
        return self.stub.Recommend(recommender_pb2.RecommendRequest(**fields), timeout=timeout)

    def logs(self) -> str:
        return self.running.logs()

    def metrics(self) -> str:
        """GET /metrics: the Prometheus text exposition."""
        with urllib.request.urlopen(f"http://{self.metrics_address}/metrics", timeout=10) as reply:
            assert reply.status == 200
            assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            return reply.read().decode()

    def models(self):
        """ListModels as {name: {version: ModelVersionStatus}} plus the raw statuses."""
        reply = self.admin.ListModels(admin_pb2.ListModelsRequest(), timeout=30, metadata=self.admin_metadata())
        return {m.name: m for m in reply.models}

    def reload(self):
        reply = self.admin.ReloadModels(admin_pb2.ReloadModelsRequest(), timeout=120, metadata=self.admin_metadata())
        return {m.name: m for m in reply.models}

    def ctl(self, *args):
        """Runs recsysctl against this sidecar; returns (exit code, stdout, stderr)."""
        where = ["--address", self.address] if args[0] == "recommend" else ["--admin", self.admin_address]
        if self.admin_token and args[0] != "recommend":
            where += ["--token", self.admin_token]
        done = subprocess.run([CTL, args[0], *where, *args[1:]], capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr

    def stop(self):
        self.admin_channel.close()
        self.channel.close()
        self.running.stop(timeout=15)


@pytest.fixture
def start_sidecar():
    started = []

    def start(*args, **kwargs):
        sidecar = Sidecar(*args, **kwargs)
        started.append(sidecar)
        return sidecar

    yield start
    for sidecar in started:
        sidecar.stop()


def store_with(tmp_path, **models):
    """A store folder whose models are links to version folders: name=(version, source_dir)."""
    store = tmp_path / "store"
    for name, (version, source) in models.items():
        (store / name).mkdir(parents=True, exist_ok=True)
        (store / name / str(version)).symlink_to(pathlib.Path(source).resolve(), target_is_directory=True)
    return store
