"""Whole-catalog retrieval modes (model.json "retrieval") and eligibility filters (issue 18), against
the real binary: exclude_item_ids, named item sets and exclude_history are honoured exactly in every
mode with top_k filled, an item set replaced under load fails no call, and bad input is refused
with a status and a message that says what to fix."""
import subprocess
import sys
import threading

import grpc
import pytest

from conftest import ROOT, admin_pb2, recommender_pb2

ITEMS = 3000
MODES = ["exact", "quantized", "approximate"]
KINDS = ["sasrec", "lstm"]


def first_id(row):
    return 1_000_000_000 + 7 * row  # tools/make_catalog_store.py's item ids


@pytest.fixture(scope="module")
def catalog_store(tmp_path_factory):
    """One model per kind x mode over the same random catalog: <kind>_<mode>."""
    store = tmp_path_factory.mktemp("retrieval") / "store"
    for kind in KINDS:
        for mode in MODES:
            subprocess.run(
                [sys.executable, str(ROOT / "tools/make_catalog_store.py"), "--store", str(store),
                 "--model", f"{kind}_{mode}", "--kind", kind, "--items", str(ITEMS), "--retrieval", mode,
                 "--dim", "32", "--max-history", "20"],
                check=True, capture_output=True)
    return store


@pytest.fixture(scope="module")
def sidecar(catalog_store):
    from conftest import Sidecar
    running = Sidecar(catalog_store, default_model="sasrec_exact")
    yield running
    running.stop()


def history(rows):
    return [recommender_pb2.Event(item_id=first_id(r), type=recommender_pb2.CLICK) for r in rows]


def ids(reply):
    return [item.item_id for item in reply.items]


def set_item_set(sidecar, name, item_ids):
    return sidecar.admin.SetItemSet(admin_pb2.SetItemSetRequest(name=name, item_ids=item_ids), timeout=30)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_filters_honoured_exactly_and_top_k_filled(sidecar, kind, mode):
    model = f"{kind}_{mode}"
    events = history([5, 17, 400, 2999])
    unfiltered = ids(sidecar.recommend(model=model, history=events, top_k=60))
    assert len(unfiltered) == 60
    # Exclude the best 30 three ways at once: the request's ids, a named set, and the history.
    request_ids, named, from_history = unfiltered[:10], unfiltered[10:20], unfiltered[20:30]
    set_item_set(sidecar, "out_of_stock", named)
    filtered_history = events + [recommender_pb2.Event(item_id=i, type=recommender_pb2.VIEW) for i in from_history]
    reply = sidecar.recommend(model=model, history=filtered_history, top_k=25, exclude_history=True,
                              exclude_item_ids=request_ids, exclude_item_sets=["out_of_stock"])
    got = ids(reply)
    excluded = set(unfiltered[:30]) | {e.item_id for e in events}
    assert len(got) == 25, "top_k not filled although thousands of items are eligible"
    assert not excluded & set(got), f"{model} returned excluded items {excluded & set(got)}"
    if mode == "exact":
        # The history's extra events change the user vector, so compare with the same request unfiltered.
        same_request = ids(sidecar.recommend(model=model, history=filtered_history, top_k=200))
        assert got == [i for i in same_request if i not in excluded][:25]


@pytest.mark.parametrize("mode", MODES)
def test_a_filter_that_leaves_few_items_returns_exactly_those(sidecar, mode):
    eligible = [first_id(r) for r in (3, 1500, 2998)]
    everything_else = [first_id(r) for r in range(ITEMS) if first_id(r) not in eligible]
    set_item_set(sidecar, "nearly_all", everything_else)
    reply = sidecar.recommend(model=f"sasrec_{mode}", history=history([1, 2]), top_k=10,
                              exclude_item_sets=["nearly_all"])
    assert sorted(ids(reply)) == sorted(eligible)


def test_filters_apply_to_candidates_too(sidecar):
    candidates = [first_id(r) for r in range(50)]
    reply = sidecar.recommend(model="lstm_quantized", history=history([9]), candidate_item_ids=candidates,
                              top_k=50, exclude_item_ids=candidates[:20])
    assert sorted(ids(reply)) == sorted(candidates[20:])


def test_item_set_replaced_under_load_fails_no_call(sidecar):
    """Four clients call without pause while the set flips between two contents 30 times (admin RPC
    and recsysctl): every call succeeds and excludes the items both contents hold."""
    top = ids(sidecar.recommend(model="sasrec_quantized", history=history([42]), top_k=40))
    always, first, second = top[:10], top[10:20], top[20:30]
    set_item_set(sidecar, "flipping", always + first)
    stop = threading.Event()
    failures, leaked, calls = [], [], [0]
    lock = threading.Lock()

    def client():
        while not stop.is_set():
            try:
                reply = sidecar.recommend(model="sasrec_quantized", history=history([42]), top_k=20,
                                          exclude_item_sets=["flipping"])
                got = ids(reply)
                with lock:
                    calls[0] += 1
                    if set(always) & set(got) or len(got) != 20:
                        leaked.append(got)
            except grpc.RpcError as error:
                with lock:
                    failures.append(f"{error.code()}: {error.details()}")

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for flip in range(30):
            content = always + (second if flip % 2 == 0 else first)
            if flip % 3 == 0:
                code, out, err = sidecar.ctl("item-set", "flipping", *map(str, content))
                assert code == 0, err
                assert "flipping  items=20" in out
            else:
                assert set_item_set(sidecar, "flipping", content).item_count == 20
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert leaked == []
    assert calls[0] > 30
    listed = {s.name: s for s in sidecar.admin.ListItemSets(admin_pb2.ListItemSetsRequest(), timeout=10).item_sets}
    assert listed["flipping"].generation == 31
    code, out, _ = sidecar.ctl("item-sets")
    assert code == 0 and "flipping  items=20  generation=31" in out


def test_bad_filters_are_refused_with_what_to_fix(sidecar):
    with pytest.raises(grpc.RpcError) as raised:
        sidecar.recommend(model="sasrec_exact", top_k=5, exclude_item_sets=["no_such_set"])
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no_such_set" in raised.value.details() and "recsysctl item-set" in raised.value.details()
    with pytest.raises(grpc.RpcError) as raised:
        sidecar.recommend(model="sasrec_exact", top_k=5, exclude_item_sets=["x" * 65])
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as raised:
        sidecar.recommend(model="sasrec_exact", top_k=5, exclude_item_sets=[str(i) for i in range(17)])
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as raised:
        set_item_set(sidecar, "bad name!", [1])
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "letters, digits" in raised.value.details()


def test_an_unknown_retrieval_mode_fails_the_version_with_the_key_named(tmp_path, start_sidecar):
    store = tmp_path / "store"
    subprocess.run([sys.executable, str(ROOT / "tools/make_catalog_store.py"), "--store", str(store), "--model",
                    "sasrec", "--kind", "sasrec", "--items", "100", "--retrieval", "hnsw-please"],
                   check=True, capture_output=True)
    running = start_sidecar(store, default_model="sasrec", wait_serving=False)
    status = running.models()["sasrec"].versions[0]
    assert status.state == admin_pb2.FAILED
    assert '"retrieval" must be one of "exact", "quantized", "approximate"' in status.error
