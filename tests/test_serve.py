"""`zoo serve` (zoo.serving): one real server process for the module, on a free port, with
shipped models (sentiment-mr-lstm, digits-lstm): every endpoint, every error code, 64
concurrent requests against `zoo predict`; with stand-in models that need no TensorFlow,
SIGTERM with a request in flight and the queue's 503; the refusals of `zoo serve` itself
(missing extra, a model failing its hash check); an exported ONNX folder served."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "saved_models"
REVIEWS = [
    "a gorgeous , witty , seductive movie .",
    "the plot was dull",
    "an utterly charming film",
    "i expected a great film but it was dull",
]
#: the module server's limits, small enough to reach
MAX_INSTANCES, MAX_BODY = 64, 1 << 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: Any = None, *, raw: bytes | None = None, method: str | None = None):
    """(status, headers, JSON or text) of one request; `body` is sent as JSON."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, headers, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        status, headers, payload = err.code, err.headers, err.read()
    kind = headers.get("content-type", "")
    if "json" in kind:
        return status, headers, json.loads(payload)
    return status, headers, payload.decode() if kind.startswith("text/") else payload


def wait_ready(url: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"zoo serve exited with {process.returncode}")
        try:
            if call(f"{url}/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("the server was not ready in 4 minutes")


#: the tests of the real server share one `zoo serve` process per module (and per xdist
#: worker), which takes about 20 s to load and warm up its models: with the slow tests,
#: which CI runs; the stand-in servers below start in a second and stay in the default suite
SERVER_STARTS = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, subprocess.Popen]]:
    """`zoo serve sentiment-mr-lstm digits-lstm`; requests wait up to 200 ms for company, so
    that requests sent together are batched together."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zoo",
            "serve",
            "sentiment-mr-lstm",
            "digits-lstm",
            "--registry",
            str(SHIPPED),
            "--port",
            str(port),
            "--max-wait-ms",
            "200",
            "--max-instances",
            str(MAX_INSTANCES),
            "--max-body",
            str(MAX_BODY),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def predict_url(url: str, model: str = "sentiment-mr-lstm") -> str:
    return f"{url}/v1/models/{model}:predict"


@SERVER_STARTS
def test_status_metadata_health_openapi_and_the_model_page(server) -> None:
    url, _ = server
    assert call(f"{url}/healthz")[:3:2] == (200, {"status": "alive"})
    assert call(f"{url}/readyz")[:3:2] == (200, {"status": "ready"})
    status, _, body = call(f"{url}/v1/models/sentiment-mr-lstm")
    assert (status, body["model_version_status"][0]["version"]) == (200, "5")
    assert body["model_version_status"][0]["state"] == "AVAILABLE"
    assert call(f"{url}/v1/models/sentiment-mr-lstm/versions/5")[0] == 200
    status, _, meta = call(f"{url}/v1/models/digits-lstm/metadata")
    assert status == 200
    assert meta["model_spec"] == {"name": "digits-lstm", "version": "1"}
    assert meta["metadata"]["card"]["task"] == "one-to-one"
    assert "array" in meta["metadata"]["input"]
    status, _, spec = call(f"{url}/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    assert "/v1/models/{name}:predict" in spec["paths"]
    status, headers, page = call(url)
    assert status == 200 and headers["content-type"].startswith("text/html")
    for text in ("sentiment-mr-lstm@5", "digits-lstm@1", 'type="file"', "<textarea", "accuracy"):
        assert text in page
    status, headers, png = call(f"{url}/v1/models/digits-lstm/versions/1/training_curves.png")
    assert (status, headers["content-type"], png[:4]) == (200, "image/png", b"\x89PNG")


@SERVER_STARTS
def test_predictions_are_zoo_predicts_also_for_64_concurrent_requests(server, capsys) -> None:
    from zoo.cli import main

    url, _ = server
    texts = [f"{REVIEWS[i % 4]} {'and more ' * (i % 7)}".strip() for i in range(64)]
    assert main(["predict", "--registry", str(SHIPPED), "sentiment-mr-lstm", *texts]) == 0
    expected = [json.loads(line)["output"] for line in capsys.readouterr().out.splitlines()]
    with ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(lambda t: call(predict_url(url), {"instances": [t]}), texts))
    assert [a[0] for a in answers] == [200] * 64
    assert [a[2]["predictions"][0] for a in answers] == expected
    # several instances in one request, by version: in order
    status, _, body = call(
        f"{url}/v1/models/sentiment-mr-lstm/versions/5:predict", {"instances": texts[:5]}
    )
    assert (status, body["predictions"]) == (200, expected[:5])
    assert body["predictions"][0] == {"label": "pos", "probability": 0.9821}


@SERVER_STARTS
def test_images_come_as_base64_or_pixel_lists(server) -> None:
    url, _ = server
    png = (SHIPPED / "digits-lstm" / "1" / "reference_1.png").read_bytes()
    status, _, body = call(
        predict_url(url, "digits-lstm"),
        {"instances": [{"b64": base64.b64encode(png).decode()}, [[0] * 8] * 8]},
    )
    assert status == 200
    assert body["predictions"][0] == {"label": "4", "probability": 0.9993}
    assert set(body["predictions"][1]) == {"label", "probability"}


@SERVER_STARTS
@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v1/models/sentiment-mr-lstm:predict", b'{"instances": ["a', 400, "malformed JSON"),
        ("/v1/models/sentiment-mr-lstm:predict", b'{"inputs": ["a"]}', 400, '{"instances"'),
        ("/v1/models/nope:predict", b'{"instances": ["a"]}', 404, "no model 'nope'"),
        (
            "/v1/models/sentiment-mr-lstm/versions/4:predict",
            b'{"instances": ["a"]}',
            404,
            "no version '4'",
        ),
        ("/v1/models/sentiment-mr-lstm/versions/x/metadata", None, 404, "no version 'x'"),
        (
            "/v1/models/sentiment-mr-lstm:predict",
            json.dumps({"instances": ["a"] * (MAX_INSTANCES + 1)}).encode(),
            413,
            f"at most {MAX_INSTANCES}",
        ),
        (
            "/v1/models/sentiment-mr-lstm:predict",
            json.dumps({"instances": ["a" * MAX_BODY]}).encode(),
            413,
            "--max-body",
        ),
        (
            "/v1/models/sentiment-mr-lstm:predict",
            b'{"instances": ["fine", "  "]}',
            400,
            "instance 1: the input has no words",
        ),
        (
            "/v1/models/sentiment-mr-lstm:predict",
            b'{"instances": [3]}',
            400,
            "instance 0: expected a sentence",
        ),
        (
            "/v1/models/digits-lstm:predict",
            b'{"instances": [{"b64": "aGVsbG8="}]}',
            400,
            "instance 0: cannot decode",
        ),
        (
            "/v1/models/digits-lstm:predict",
            b'{"instances": [{"b64": "%%"}]}',
            400,
            'instance 0: "b64" is not valid',
        ),
        (
            "/v1/models/digits-lstm:predict",
            b'{"instances": ["/etc/passwd"]}',
            400,
            "reads no paths",
        ),
        ("/v1/models/digits-lstm:predict", b'{"instances": [[[1, 2], [3]]]}', 400, "rectangular"),
        ("/nowhere", None, 404, "Not Found"),
    ],
)
def test_each_error_is_json_with_its_code(server, path, body, status, message) -> None:
    url, _ = server
    got, headers, answer = call(url + path, raw=body, method="POST" if body else "GET")
    assert (got, headers["content-type"]) == (status, "application/json")
    assert message in answer["error"]
    assert "Traceback" not in answer["error"]


@SERVER_STARTS
def test_a_bad_instance_fails_only_its_own_request_in_a_shared_batch(server) -> None:
    url, _ = server
    bodies = [{"instances": ["fine"]}, {"instances": ["fine", "", "good"]}, {"instances": ["ok"]}]
    with ThreadPoolExecutor(3) as pool:  # sent together: batched together (--max-wait-ms 200)
        answers = list(pool.map(lambda b: call(predict_url(url), b), bodies))
    assert [a[0] for a in answers] == [200, 400, 200]
    assert answers[1][2]["error"].startswith("instance 1: ")


#: a server whose model takes 0.5 s a batch and needs no TensorFlow, run as `zoo serve` runs it
SLOW_SERVER = """
import sys, time
from pathlib import Path
from zoo.serving import run
from zoo.serving.app import Limits
from zoo.serving.models import ServedModel

def slow(inputs):
    time.sleep(0.5)
    return [{"length": len(i)} for i in inputs]

model = ServedModel("slow", 1, "many-to-one", {}, "a text", slow, Path("."), "zoo")
run([model], Limits(), port=int(sys.argv[1]))
"""


def test_sigterm_answers_the_request_in_flight_before_exiting_and_each_request_logs_a_line(
    tmp_path,
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_SERVER, str(port)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        assert call(predict_url(url, "nope"), {"instances": ["a"]})[0] == 404
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(call, predict_url(url, "slow"), {"instances": ["abc", "de"]})
            time.sleep(0.2)  # the model is busy with it for another 0.3 s
            process.send_signal(signal.SIGTERM)
            assert answer.result()[:3:2] == (200, {"predictions": [{"length": 3}, {"length": 2}]})
        # uvicorn re-raises the signal once every request is answered: killed by SIGTERM, as
        # a process without a handler is (a shell's status 143)
        assert process.wait(timeout=30) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
    logged = [
        line.split("zoo serve: ", 1)[1]
        for line in process.stderr.read().splitlines()
        if "zoo serve: " in line
    ]
    requests = [line for line in logged if line.startswith(("GET", "POST"))]
    assert requests[-2].startswith("POST /v1/models/nope:predict 404 ")
    assert requests[-2].endswith(" ms 0 instances")
    assert requests[-1].startswith("POST /v1/models/slow:predict 200 ")
    assert requests[-1].endswith(" ms 2 instances")


# in process: the queue, the refusals of `zoo serve` -----------------------------------------
@contextmanager
def served(app: Any) -> Iterator[str]:
    """`app` on uvicorn in a thread, on a free port."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_a_full_queue_answers_503_with_retry_after_while_the_loop_stays_free(tmp_path) -> None:
    from zoo.serving.app import Limits, Server
    from zoo.serving.models import ServedModel

    running, release = threading.Event(), threading.Event()

    def blocking(inputs: list[Any]) -> list[Any]:
        running.set()
        release.wait(30)
        return [{"echo": i} for i in inputs]

    model = ServedModel(
        "blocker",
        1,
        "many-to-one",
        {"reference": {"inputs": ["x"]}},
        "a text",
        blocking,
        tmp_path,
        "zoo",
    )
    server = Server([model], Limits(max_batch_size=1, max_wait_ms=1, queue_size=1))
    with served(server.app) as url, ThreadPoolExecutor(2) as pool:
        running.wait(30)  # the warm-up holds the model: not ready yet, but alive
        assert call(f"{url}/readyz")[0] == 503
        assert call(f"{url}/healthz")[0] == 200
        first = pool.submit(call, predict_url(url, "blocker"), {"instances": ["a"]})
        time.sleep(0.3)  # taken by the batcher, waiting for the model
        second = pool.submit(call, predict_url(url, "blocker"), {"instances": ["b"]})
        time.sleep(0.3)  # in the queue
        status, headers, body = call(predict_url(url, "blocker"), {"instances": ["c"]})
        assert (status, headers["retry-after"]) == (503, "1")
        assert "try again" in body["error"]
        release.set()
        assert first.result()[2] == {"predictions": [{"echo": "a"}]}
        assert second.result()[2] == {"predictions": [{"echo": "b"}]}
        assert call(f"{url}/readyz")[0] == 200


def test_serve_without_the_extra_says_what_to_install(monkeypatch, capsys) -> None:
    from zoo.cli import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed
    assert main(["serve", "sentiment-mr-lstm"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        'zoo: error: zoo serve needs uvicorn: pip install "rnn-zoo[serve]"'
    ]


def test_a_model_failing_its_hash_check_is_not_served(tmp_path, capsys) -> None:
    from zoo.cli import main

    shutil.copytree(SHIPPED / "sentiment-mr-lstm", tmp_path / "sentiment-mr-lstm")
    with (tmp_path / "sentiment-mr-lstm" / "5" / "preprocessing.json").open("a") as f:
        f.write(" ")
    assert main(["serve", "--registry", str(tmp_path), "sentiment-mr-lstm", "--port", "1"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("zoo: error: ") and "SHA-256" in line


def test_an_exported_onnx_folder_is_served_through_the_runtime(tmp_path) -> None:
    from zoo import registry
    from zoo.errors import ZooError
    from zoo.registry.export import export
    from zoo.serving.app import Limits, Server
    from zoo.serving.models import load_model

    model = registry.load("digits-lstm", root=SHIPPED)
    folder = export(model, tmp_path / "digits-onnx", format="onnx")
    served_model = load_model(str(folder), runtime="onnx")
    assert (served_model.name, served_model.version, served_model.runtime) == (
        "digits-lstm",
        1,
        "onnx",
    )
    png = (SHIPPED / "digits-lstm" / "1" / "reference_1.png").read_bytes()
    with served(Server([served_model], Limits()).app) as url:
        wait_ready(url)
        status, _, body = call(
            predict_url(url, "digits-lstm"),
            {"instances": [{"b64": base64.b64encode(png).decode()}]},
        )
    assert (status, body["predictions"]) == (200, [{"label": "4", "probability": 0.9993}])
    (folder / "preprocessing.json").write_text("{}")
    with pytest.raises(ZooError, match="altered after export"):
        load_model(str(folder), runtime="onnx")
    assert os.path.isdir(folder)
