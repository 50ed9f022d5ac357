"""The Prometheus endpoint of the real binary: labelled series that move as calls are made and
versions swap, the listener's answers to bad requests, and --print-config."""
import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request

import grpc
import pytest

from conftest import BINARY, GOLDEN, PLUGINS_DIR, free_port, recommender_pb2, store_with
from store_tools import publish, read_version, with_bias_shift

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, ((label, value), ...)): value} for every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        name, labels, value = match.groups()
        samples[(name, tuple(sorted(LABEL.findall(labels or ""))))] = float(value)
    return samples


def sample(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def requests_total(samples, model, version, code):
    return sample(samples, "recsys_requests_total", model=model, version=version, arm="", code=code) or 0


def golden_request(sidecar, **fields):
    """A valid request for the golden mlp (one of its recorded cases)."""
    case = next(c for c in json.loads((GOLDEN / "mlp/cases.json").read_text())
                if c["context"] and c["candidate_features"])
    return sidecar.recommend(
        history=[recommender_pb2.Event(item_id=i, type=t) for i, t in zip(case["history_item_ids"], case["history_types"])],
        candidate_item_ids=case["candidate_item_ids"], candidate_features=case["candidate_features"],
        context=case["context"], top_k=case["top_k"], **fields)


def test_metrics_show_labelled_series_changing_as_calls_are_made(tmp_path, start_sidecar):
    store = tmp_path / "store"
    manifest, tensors = read_version(GOLDEN / "mlp/model/1")
    publish(store, "mlp", 1, manifest, tensors)
    sidecar = start_sidecar(store)

    before = parse(sidecar.metrics())
    assert sample(before, "recsys_model_serving_version", model="mlp") == 1
    assert sample(before, "recsys_model_loads_total", model="mlp") == 1
    assert sample(before, "recsys_model_load_failures_total", model="mlp") == 0
    assert sample(before, "recsys_plugins", state="loaded") >= 1
    assert sample(before, "recsys_exposure_log_dropped_total") == 0
    assert sample(before, "recsys_requests_in_flight") == 0
    build = [labels for (name, labels) in before if name == "recsys_build_info"]
    assert len(build) == 1 and {key for key, _ in build[0]} == {"version", "commit", "swift"}
    assert requests_total(before, "mlp", "1", "OK") == 0

    for _ in range(3):
        golden_request(sidecar)
    with pytest.raises(grpc.RpcError) as refused:
        golden_request(sidecar, model="no-such-model")
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as invalid:
        sidecar.recommend(candidate_item_ids=[1, 2], top_k=0)
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    after = parse(sidecar.metrics())
    assert requests_total(after, "mlp", "1", "OK") == 3
    # Failures before a model was chosen: model="" (never the caller's name, which would mint series).
    assert requests_total(after, "", "", "NOT_FOUND") == 1
    assert requests_total(after, "", "", "INVALID_ARGUMENT") == 1
    assert not any(dict(labels).get("model") == "no-such-model" for _, labels in after)
    assert sample(after, "recsys_request_duration_seconds_count", model="mlp", version="1") == 3
    assert sample(after, "recsys_request_duration_seconds_sum", model="mlp", version="1") > 0
    assert sample(after, "recsys_request_duration_seconds_bucket", model="mlp", version="1", le="+Inf") == 3
    assert sample(after, "recsys_requests_in_flight") == 0

    # A new version: served version, loads, and calls on a new version label.
    publish(store, "mlp", 2, manifest, with_bias_shift(tensors, 1.0))
    sidecar.reload()
    golden_request(sidecar)
    swapped = parse(sidecar.metrics())
    assert sample(swapped, "recsys_model_serving_version", model="mlp") == 2
    assert sample(swapped, "recsys_model_loads_total", model="mlp") == 2
    assert requests_total(swapped, "mlp", "2", "OK") == 1
    assert requests_total(swapped, "mlp", "1", "OK") == 3

    # A broken version fails to load: the failure counts, version 2 keeps serving.
    publish(store, "mlp", 3, manifest, tensors, raw_manifest="{not json")
    sidecar.reload()
    broken = parse(sidecar.metrics())
    assert sample(broken, "recsys_model_load_failures_total", model="mlp") == 1
    assert sample(broken, "recsys_model_serving_version", model="mlp") == 2


def raw_http(address, payload, timeout=10):
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(payload)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_metrics_listener_answers_bad_requests_and_survives_them(tmp_path, start_sidecar):
    sidecar = start_sidecar(store_with(tmp_path, mlp=(1, GOLDEN / "mlp/model/1")))
    base = f"http://{sidecar.metrics_address}"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/", timeout=10)
    assert missing.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as post:
        urllib.request.urlopen(urllib.request.Request(f"{base}/metrics", data=b"x", method="POST"), timeout=10)
    assert post.value.code == 405
    assert raw_http(sidecar.metrics_address, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    huge = b"GET /metrics HTTP/1.1\r\nX-Filler: " + b"a" * 20_000 + b"\r\n\r\n"
    assert raw_http(sidecar.metrics_address, huge).startswith(b"HTTP/1.1 431 ")
    assert raw_http(sidecar.metrics_address, b"\x00\xff" * 100 + b"\n\n").startswith(b"HTTP/1.1 400 ")
    # A client that connects and says nothing is cut off after the connection timeout (2 s);
    # a scrape behind it still gets its answer.
    host, port = sidecar.metrics_address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as idle:
        started = time.monotonic()
        assert "recsys_build_info" in sidecar.metrics()
        assert time.monotonic() - started < 8
        assert idle.recv(100).startswith(b"HTTP/1.1 408 ")
    # A client that hangs up mid-request does no harm either.
    with socket.create_connection((host, int(port)), timeout=10) as rude:
        rude.sendall(b"GET /met")
    assert "recsys_build_info" in sidecar.metrics()
    assert sidecar.process.poll() is None
    golden_request(sidecar)


def test_metrics_listen_empty_turns_the_endpoint_off_and_a_taken_port_fails_fast(tmp_path, start_sidecar):
    store = store_with(tmp_path, mlp=(1, GOLDEN / "mlp/model/1"))
    sidecar = start_sidecar(store, metrics_listen="")
    assert "metrics=off" in sidecar.logs()
    golden_request(sidecar)

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run([BINARY, "--listen", f"127.0.0.1:{free_port()}", "--admin-listen", "",
                               "--plugins", PLUGINS_DIR, "--store", str(store), "--metrics-listen", address],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"metrics_listen {address}: cannot listen" in done.stderr, done.stderr


def print_config(*args):
    return subprocess.run([BINARY, "--print-config", *args], capture_output=True, text=True, timeout=60)


def test_print_config_shows_file_and_flags_and_reads_back(tmp_path):
    config = tmp_path / "sidecar.yaml"
    config.write_text("store: /srv/models\nmetrics_listen: 0.0.0.0:9464\nmax_top_k: 50\n"
                      "models: {mlp: {pinned: 3, labels: {stable: 3}}}\n")
    done = print_config("--config", str(config), "--listen", "127.0.0.1:7000", "--drain-seconds", "12",
                        "--admin-token", "0123456789abcdef-secret")
    assert done.returncode == 0, done.stderr
    shown = done.stdout
    for line in ['store: "/srv/models"', 'metrics_listen: "0.0.0.0:9464"', "max_top_k: 50",
                 'listen: "127.0.0.1:7000"', "drain_seconds: 12.0", 'admin_listen: "127.0.0.1:50052"',
                 '  "mlp": {pinned: 3, labels: {"stable": 3}}']:
        assert line in shown.splitlines(), (line, shown)
    assert "0123456789abcdef-secret" not in shown  # the token is never printed
    assert "# admin_token: set" in shown

    # What it prints is a config file that gives the same settings.
    printed = tmp_path / "printed.yaml"
    printed.write_text(shown)
    again = print_config("--config", str(printed), "--admin-token", "0123456789abcdef-secret")
    assert again.returncode == 0, again.stderr
    assert again.stdout == shown


def test_print_config_refuses_an_invalid_file_naming_the_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("metrics_listen: 9464\n")
    done = print_config("--config", str(config))
    assert done.returncode != 0 and "metrics_listen" in done.stderr, done.stderr
    config.write_text("metrics_listen: localhost\n")
    done = print_config("--config", str(config))
    assert done.returncode != 0 and "metrics_listen" in done.stderr and "port" in done.stderr, done.stderr
