"""Issue 13, the YAML part: no experiments or config file crashes or wedges the sidecar. Deep
nesting, alias bombs and oversized files are refused before Yams reads them (YAMLGuard), the
config that served keeps routing, the refusal shows in `recsysctl experiments show`, and the
poller loads a corrected file at its next poll. Also: model versions named by an experiments file
are loaded for it, without a label or pin."""
import subprocess
import time

import grpc
import pytest

from conftest import BINARY, GOLDEN, PLUGINS_DIR, admin_pb2, free_port
from experiment_tools import (HISTORY_ITEMS, eventually, experiment_status, experiments_store, reload_experiments,
                              request, start_with_experiments, status, write_experiments)
from store_tools import publish, read_version, with_bias_shift

HOME = dict(key="home-ranker", salt="2026-11", match={"surface": ["home"]},
            arms=[dict(name="control", model="alpha", weight=50), dict(name="treatment", model="beta", weight=50)])
CONFIG = {"default_model": "base", "experiments": [HOME]}
MOVED = {"default_model": "base", "experiments": [dict(HOME, match={"surface": ["pdp"]})]}
LIMIT = 1 << 20

NESTED = "experiments: " + "[" * 5000 + "]" * 5000 + "\n"


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name, previous in zip("bcdefghi", "abcdefgh"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\nexperiments: [*i]\n"


def many_experiments(count: int) -> str:
    """`count` one-arm experiments, one flow line each (about 80 bytes: 10 000 stay under 1 MiB)."""
    return "default_model: base\nexperiments:\n" + "".join(
        f'  - {{key: e{i}, salt: "s", arms: [{{name: a, model: alpha, weight: 100}}]}}\n' for i in range(count))


def refused(call, *args, **kwargs):
    with pytest.raises(grpc.RpcError) as failure:
        call(*args, **kwargs)
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION, failure.value
    return failure.value.details()


def serving_home(sidecar):
    """The old config still routes: a home request is taken by home-ranker."""
    reply = sidecar.recommend(**request("user-1"))
    return reply.experiment == "home-ranker" and reply.arm in ("control", "treatment")


def start_args(store, *extra):
    return [BINARY, "--listen", f"127.0.0.1:{free_port()}", "--admin-listen", f"127.0.0.1:{free_port()}",
            "--metrics-listen", "", "--store", str(store), "--plugins", PLUGINS_DIR, "--default-model", "base", *extra]


def test_a_deeply_nested_file_is_refused_by_the_poller_and_the_old_config_keeps_routing(tmp_path, start_sidecar):
    sidecar = start_with_experiments(start_sidecar, tmp_path, CONFIG, poll_interval=0.1)
    served = status(sidecar)
    write_experiments(sidecar.experiments_path, NESTED)
    error = eventually(lambda: status(sidecar).last_error, timeout=10, what="the refusal of the nested file")
    assert "nested more than 64 levels" in error, error
    assert sidecar.process.poll() is None, sidecar.logs()
    now = status(sidecar)
    assert (now.sha256, now.loaded_at) == (served.sha256, served.loaded_at)
    assert serving_home(sidecar)
    code, out, err = sidecar.ctl("experiments", "show")
    assert code == 0 and "refused" in out and "64 levels" in out and "home-ranker" in out, out + err
    # The admin reload says the same, at once.
    assert "nested more than 64 levels" in refused(reload_experiments, sidecar)
    assert sidecar.process.poll() is None


def test_a_billion_laughs_file_is_refused_quickly_and_a_corrected_file_loads_at_the_next_poll(tmp_path, start_sidecar):
    sidecar = start_with_experiments(start_sidecar, tmp_path, CONFIG, poll_interval=0.2)
    write_experiments(sidecar.experiments_path, billion_laughs())
    error = eventually(lambda: status(sidecar).last_error, timeout=5, what="the refusal of the alias bomb")
    assert "anchors (&name) are not allowed" in error, error
    started = time.monotonic()
    assert "anchors" in refused(reload_experiments, sidecar)
    assert time.monotonic() - started < 2
    assert serving_home(sidecar)

    write_experiments(sidecar.experiments_path, MOVED)
    started = time.monotonic()
    eventually(lambda: status(sidecar).last_error == "", timeout=10, what="the corrected file to load")
    assert time.monotonic() - started < 2, "not loaded within a couple of polls"
    assert sidecar.recommend(**request("user-1")).experiment == ""
    assert sidecar.recommend(**request("user-1", surface="pdp")).experiment == "home-ranker"


def test_ten_thousand_experiments_are_refused_quickly_naming_the_limit(tmp_path, start_sidecar):
    sidecar = start_with_experiments(start_sidecar, tmp_path, CONFIG)
    write_experiments(sidecar.experiments_path, many_experiments(10_000))
    assert sidecar.experiments_path.stat().st_size < LIMIT
    started = time.monotonic()
    details = refused(reload_experiments, sidecar)
    assert time.monotonic() - started < 3, "10 000 experiments took too long to refuse"
    assert "10000 experiments, above the limit of 256" in details, details
    assert serving_home(sidecar)
    # The limit itself loads.
    write_experiments(sidecar.experiments_path, many_experiments(256))
    assert len(reload_experiments(sidecar).experiments) == 256


def test_a_huge_salt_is_refused_and_show_and_report_still_answer(tmp_path, start_sidecar):
    sidecar = start_with_experiments(start_sidecar, tmp_path, CONFIG)
    for salt, words in [("x" * (8 << 20), ("larger than the limit of 1048576 bytes",)),
                        ("y" * 300, ('experiment "home-ranker": salt', "(300 bytes)", "limit of 256 bytes"))]:
        write_experiments(sidecar.experiments_path, {"default_model": "base", "experiments": [dict(HOME, salt=salt)]})
        details = refused(reload_experiments, sidecar)
        assert all(word in details for word in words), details
        assert len(details) < 1000, "the refusal grew with the salt"
        answer = status(sidecar)
        assert all(word in answer.last_error for word in words) and answer.ByteSize() < 100_000
        assert [e.key for e in answer.experiments] == ["home-ranker"]
        for command in ("show", "report"):
            code, out, err = sidecar.ctl("experiments", command)
            assert code == 0 and "home-ranker" in out, (command, out + err)
        assert serving_home(sidecar)


def test_a_config_file_over_the_cap_or_too_deep_stops_the_start_with_a_message(tmp_path):
    store = experiments_store(tmp_path)
    big = tmp_path / "sidecar.yaml"
    big.write_text("store: " + str(store) + "\n" + "# padding\n" * 110_000)
    nested = tmp_path / "nested.yaml"
    nested.write_text("models: " + "[" * 5000 + "]" * 5000 + "\n")
    for path, words in [(big, "larger than the limit of 1048576 bytes"), (nested, "nested more than 64 levels")]:
        done = subprocess.run(start_args(store, "--config", str(path)), capture_output=True, text=True, timeout=30)
        assert done.returncode == 64, (path.name, done.returncode, done.stderr)  # a message, not a signal
        assert words in done.stderr and path.name in done.stderr, done.stderr
        assert len(done.stderr) < 5000


@pytest.mark.parametrize("what,text,words", [
    ("nested", NESTED, "nested more than 64 levels"),
    ("laughs", billion_laughs(), "anchors (&name) are not allowed"),
    ("too large", "experiments: []\n" + "# padding\n" * 110_000, "larger than the limit of 1048576 bytes"),
], ids=["nested", "laughs", "too-large"])
def test_an_invalid_experiments_file_at_start_stops_it_with_a_message(tmp_path, what, text, words):
    store = experiments_store(tmp_path)
    path = write_experiments(tmp_path / "experiments.yaml", text)
    started = time.monotonic()
    done = subprocess.run(start_args(store, "--experiments", str(path)), capture_output=True, text=True, timeout=30)
    assert done.returncode == 64, (what, done.returncode, done.stderr)
    assert words in done.stderr and "experiments.yaml" in done.stderr, (what, done.stderr)
    assert time.monotonic() - started < 10


def two_version_store(tmp_path):
    """mlp versions 7 and 8 of the golden mlp (8 scores every item 1 higher), plus base."""
    manifest, tensors = read_version(GOLDEN / "mlp_nofeat/model/1")
    store = tmp_path / "store"
    publish(store, "mlp", 7, manifest, tensors)
    publish(store, "mlp", 8, manifest, with_bias_shift(tensors, 1.0))
    publish(store, "base", 1, manifest, tensors)
    return store


def version_states(sidecar, model="mlp"):
    return {v.version: v.state for v in sidecar.models()[model].versions}


def test_versions_are_arms_without_a_label_or_pin(tmp_path, start_sidecar):
    versions = dict(key="mlp-v8", salt="1", arms=[dict(name="v7", model="mlp@7", weight=50),
                                                  dict(name="v8", model="mlp@8", weight=50)])
    sidecar = start_with_experiments(start_sidecar, tmp_path, {"default_model": "base", "experiments": [versions]},
                                     store=two_version_store(tmp_path))
    mlp = sidecar.models()["mlp"]
    assert mlp.serving_version == 8 and mlp.policy == "latest"
    assert all(not v.labels for v in mlp.versions)
    assert version_states(sidecar) == {7: admin_pb2.AVAILABLE, 8: admin_pb2.AVAILABLE}
    seen = {}
    for i in range(60):
        reply = sidecar.recommend(**request(f"user-{i}"))
        assert reply.experiment == "mlp-v8" and reply.model == "mlp", reply
        seen.setdefault(reply.arm, set()).add(reply.model_version)
    assert seen == {"v7": {7}, "v8": {8}}, seen
    # The two versions score differently (v8 is v7 shifted), so both really served.
    user7 = next(f"user-{i}" for i in range(60) if sidecar.recommend(**request(f"user-{i}")).arm == "v7")
    user8 = next(f"user-{i}" for i in range(60) if sidecar.recommend(**request(f"user-{i}")).arm == "v8")
    s7, s8 = sidecar.recommend(**request(user7)).items[0].score, sidecar.recommend(**request(user8)).items[0].score
    assert abs(s8 - s7 - 1.0) < 1e-3, (s7, s8)

    # A version the store does not have is refused by name; the two keep serving.
    write_experiments(sidecar.experiments_path, {"experiments": [dict(versions, arms=[
        dict(name="v7", model="mlp@7", weight=50), dict(name="v9", model="mlp@9", weight=50)])]})
    details = refused(reload_experiments, sidecar)
    assert 'arm "v9"' in details and "no version 9" in details, details
    assert version_states(sidecar) == {7: admin_pb2.AVAILABLE, 8: admin_pb2.AVAILABLE}
    assert {sidecar.recommend(**request(f"user-{i}")).model_version for i in range(30)} == {7, 8}

    # A file that no longer names version 7 lets it unload (nothing else wants it).
    write_experiments(sidecar.experiments_path, {"experiments": [dict(versions, arms=[
        dict(name="v8", model="mlp@8", weight=100)])]})
    assert reload_experiments(sidecar).last_error == ""
    assert version_states(sidecar) == {7: admin_pb2.UNLOADED, 8: admin_pb2.AVAILABLE}


def test_a_file_at_the_limits_still_loads_and_show_and_report_answer(tmp_path, start_sidecar):
    """256 experiments of long names, salts and surfaces in just under 1 MiB: the admin answers
    stay under gRPC's message size."""
    def experiment(i):
        arms = "".join(f"{{name: a{j}-{'n' * 124}, model: alpha, weight: 12.5}}, " for j in range(8))
        surfaces = ", ".join(f"s{j:02d}-{'v' * 124}" for j in range(15))
        return (f'  - {{key: e{i:03d}-{"k" * 123}, salt: "{"s" * 256}", match: {{surface: [{surfaces}]}}, '
                f'arms: [{arms[:-2]}]}}\n')
    text = "default_model: base\nexperiments:\n" + "".join(experiment(i) for i in range(256))
    assert 0.9 * LIMIT < len(text) <= LIMIT, len(text)
    sidecar = start_with_experiments(start_sidecar, tmp_path, CONFIG)
    write_experiments(sidecar.experiments_path, text)
    assert len(reload_experiments(sidecar).experiments) == 256
    for _ in range(20):
        sidecar.recommend(**request("user-1", surface="s00-" + "v" * 124))
    assert experiment_status(status(sidecar), "e000-" + "k" * 123).arms
    for command in ("show", "report"):
        code, out, err = sidecar.ctl("experiments", command)
        assert code == 0 and "e255-" in out, (command, err[-2000:])
