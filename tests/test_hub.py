"""Models by name from a hub: a real HTTP server on 127.0.0.1 (in a thread) serves a pushed
folder; the zoo runs as an installed one would (no checkout `saved_models/` to read) with
its user registry in `tmp_path`. Each test counts the server's requests."""

from __future__ import annotations

import functools
import json
import shutil
import stat
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import zoo
from zoo.cli import main
from zoo.registry import catalogue, hub, layout

SHIPPED = Path(__file__).resolve().parent.parent / "saved_models"
NAME = "sentiment-mr-lstm"  # a few MB, loads in seconds
VERSION = catalogue.pin(NAME)[1]
FILES = sorted(catalogue.files(NAME, VERSION))


class CountingHandler(SimpleHTTPRequestHandler):
    """Serves a folder; records every path asked for; sends only the first half of the
    files in `truncated`, then closes the connection (a server dying mid-download)."""

    requests: list[str]
    truncated: set[str]

    def copyfile(self, source, outputfile) -> None:  # noqa: ANN001  (http.server's signature)
        if self.path in self.truncated:
            data = source.read()
            outputfile.write(data[: len(data) // 2])
            return
        super().copyfile(source, outputfile)

    def send_head(self):  # noqa: ANN201
        self.requests.append(self.path)
        return super().send_head()

    def log_message(self, format: str, *args) -> None:  # noqa: A002  (keep the test output quiet)
        pass


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A hub folder with `NAME` pushed into it, served over HTTP; the zoo as installed."""
    folder = tmp_path / "hub"
    hub.push(NAME, folder, root=SHIPPED)
    handler = type("Handler", (CountingHandler,), {"requests": [], "truncated": set()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=folder))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(layout, "checkout_models", lambda: None)
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "user"))
    monkeypatch.setenv("ZOO_HUB", f"http://127.0.0.1:{httpd.server_address[1]}/")
    monkeypatch.setattr(hub, "RETRIES", 0)  # no waiting between attempts
    yield folder, handler
    httpd.shutdown()
    httpd.server_close()


def registry_entries(tmp_path: Path) -> list[str]:
    root = tmp_path / "user"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_pull_and_predict_then_loading_again_makes_no_request(
    server, tmp_path: Path, umask_022
) -> None:
    _, handler = server
    model = zoo.load(NAME)
    assert sorted(handler.requests) == [f"/{NAME}/{VERSION}/{f}" for f in FILES]
    assert model.predict("a fine film")["label"] in ("pos", "neg")
    version = tmp_path / "user" / NAME / str(VERSION)
    assert (version / "model.keras").is_file()
    # readable by others, as any other new file (downloads arrive in private temporary files)
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in version.iterdir()} == {
        f: 0o644 for f in FILES
    }
    assert not list((tmp_path / "user").glob(".tmp-*"))

    handler.requests.clear()
    again = zoo.load(NAME)  # `latest` pinned by the catalogue, found on disk
    zoo.load(f"{NAME}:best")
    zoo.load(f"{NAME}@{VERSION}")
    assert handler.requests == []
    assert again.predict("a fine film") == model.predict("a fine film")


def test_a_file_changed_on_the_hub_is_refused_and_nothing_is_kept(server, tmp_path) -> None:
    folder, handler = server
    with (folder / NAME / str(VERSION) / "preprocessing.json").open("a") as handle:
        handle.write(" ")
    with pytest.raises(zoo.IntegrityError, match="preprocessing.json does not match the SHA-256"):
        zoo.load(NAME)
    assert registry_entries(tmp_path) == []
    assert f"/{NAME}/{VERSION}/preprocessing.json" in handler.requests


def test_a_server_dying_mid_download_leaves_nothing_and_a_rerun_completes(
    server, tmp_path: Path
) -> None:
    _, handler = server
    handler.truncated.add(f"/{NAME}/{VERSION}/model.keras")
    with pytest.raises(zoo.ZooError, match="nothing was kept"):
        hub.pull(NAME)
    assert registry_entries(tmp_path) == []

    handler.truncated.clear()
    path = hub.pull(NAME)
    assert path == tmp_path / "user" / NAME / str(VERSION)
    assert zoo.load(NAME).version == VERSION


def test_offline_uses_the_cache_and_names_what_to_pull(server, monkeypatch, capsys) -> None:
    _, handler = server
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert main(["predict", NAME, "a fine film"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert f"run `zoo pull {NAME}@{VERSION}` from http://127.0.0.1:" in error
    assert handler.requests == []

    monkeypatch.delenv("ZOO_OFFLINE")
    hub.pull(NAME)
    handler.requests.clear()
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert main(["predict", NAME, "a fine film"]) == 0
    assert '"label"' in capsys.readouterr().out
    assert handler.requests == []


def test_a_name_the_catalogue_does_not_know_is_refused(server, tmp_path: Path) -> None:
    folder, handler = server
    # the hub lists a model of its own, in the layout and index `push` writes
    shutil.copytree(folder / NAME, folder / "unpinned-sentiment")
    index = json.loads((folder / hub.HUB_CATALOGUE).read_text())
    index["models"]["unpinned-sentiment"] = catalogue.entry(folder / "unpinned-sentiment")
    (folder / hub.HUB_CATALOGUE).write_text(json.dumps(index))
    with pytest.raises(zoo.UnknownNameError, match="unknown model 'unpinned-sentiment'"):
        zoo.load("unpinned-sentiment")
    with pytest.raises(zoo.UnknownNameError, match="unknown catalogue model"):
        hub.pull("unpinned-sentiment")
    assert handler.requests == [] and registry_entries(tmp_path) == []


def test_hubs_are_tried_in_order_and_folders_and_file_urls_serve(server, tmp_path, monkeypatch):
    folder, handler = server
    dead = "http://127.0.0.1:9/"  # the discard port: connection refused
    monkeypatch.setenv("ZOO_HUB", f"{dead} {folder.as_uri()}")
    path = hub.pull(NAME)
    assert {f.name for f in path.iterdir()} == set(FILES) and handler.requests == []
    hub.remove(path)
    assert registry_entries(tmp_path) == []
    assert hub.pull(NAME, hub=str(folder)) == path  # a plain folder, given as --hub


def test_no_hub_says_how_to_set_one(server, monkeypatch) -> None:
    monkeypatch.delenv("ZOO_HUB")
    with pytest.raises(zoo.ZooError, match="no hub is configured: set ZOO_HUB"):
        hub.pull(NAME)


def test_push_writes_the_static_layout_and_the_catalogue_entry(server, tmp_path) -> None:
    folder, _ = server
    assert {f.name for f in (folder / NAME / str(VERSION)).iterdir()} == set(FILES)
    assert layout.aliases(folder / NAME) == {"latest": VERSION, "best": VERSION}
    index = json.loads((folder / hub.HUB_CATALOGUE).read_text())
    # the same pinned hashes, for the versions the hub holds (the pushed one)
    pinned = catalogue.models()[NAME]
    assert index["models"] == {
        NAME: {**pinned, "versions": {str(VERSION): pinned["versions"][str(VERSION)]}}
    }
    assert hub.push(NAME, folder, root=SHIPPED) == folder / NAME / str(VERSION)  # again: a no-op
    (folder / NAME / str(VERSION) / "README.md").write_text("changed")
    with pytest.raises(zoo.IntegrityError, match="README.md does not match"):
        hub.push(NAME, folder, root=SHIPPED)  # versions are immutable


def test_models_lists_the_catalogue_and_marks_downloads(server, capsys) -> None:
    assert main(["models", "sentiment-mr-*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split() for line in lines] == [
        [f"sentiment-mr-{cell}", "not", "downloaded"] for cell in ("gru", "lstm", "simple-rnn")
    ]
    hub.pull(NAME)
    assert main(["models", "*mr-lstm"]) == 0
    assert capsys.readouterr().out.split() == [NAME, "downloaded"]
    assert main(["cache", "--clear"]) == 0
    assert f"{NAME}@{VERSION}" in capsys.readouterr().out
    assert hub.downloaded() == []


def test_the_user_registry_is_the_platforms_data_folder(monkeypatch) -> None:
    import platformdirs

    monkeypatch.delenv("ZOO_REGISTRY")
    monkeypatch.setattr(layout, "checkout_models", lambda: None)
    expected = platformdirs.user_data_path("rnn-zoo", appauthor=False) / "models"
    assert layout.user_root() == layout.default_root() == expected
    assert Path(zoo.__file__).parent.parent not in expected.parents  # never beside the package


def test_a_source_checkout_saves_users_models_in_the_user_registry(monkeypatch, tmp_path) -> None:
    """After the README's walkthroughs, `git status` showed users' models in the tracked
    `saved_models/` (issue 28, item 10): it holds only the shipped models."""
    import platformdirs

    monkeypatch.delenv("ZOO_REGISTRY")
    monkeypatch.setattr(layout, "checkout_models", lambda: tmp_path / "saved_models")
    expected = platformdirs.user_data_path("rnn-zoo", appauthor=False) / "models"
    assert layout.default_root() == expected
    # and the checkout's shipped models are still found by name
    assert layout.search_roots() == [expected, tmp_path / "saved_models"]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_damaged_download_is_fetched_again_by_pull(server, tmp_path: Path, capsys) -> None:
    """A truncated cached `model.keras`: `zoo predict` said it failed its SHA-256 and
    `zoo pull` exited 0 without downloading anything (issue 28, item 5)."""
    _, handler = server
    version = hub.pull(NAME)
    good = (version / "model.keras").read_bytes()
    _truncate(version / "model.keras")
    handler.requests.clear()
    assert main(["pull", NAME]) == 0
    assert (version / "model.keras").read_bytes() == good
    assert sorted(handler.requests) == [f"/{NAME}/{VERSION}/{f}" for f in FILES]
    assert not list((tmp_path / "user").glob(".tmp-*"))
    handler.requests.clear()
    assert main(["pull", NAME]) == 0 and handler.requests == []  # intact: nothing fetched


def test_loading_a_damaged_download_fetches_it_again_once(server, tmp_path: Path) -> None:
    _, handler = server
    version = hub.pull(NAME)
    expected = zoo.load(NAME).predict("a fine film")
    _truncate(version / "model.keras")
    handler.requests.clear()
    assert zoo.load(NAME).predict("a fine film") == expected
    assert f"/{NAME}/{VERSION}/model.keras" in handler.requests


def test_a_damaged_download_without_a_hub_names_the_command_that_repairs_it(
    server, monkeypatch, capsys
) -> None:
    version = hub.pull(NAME)
    _truncate(version / "preprocessing.json")
    monkeypatch.delenv("ZOO_HUB")
    assert main(["predict", NAME, "a fine film"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"zoo pull {NAME}@{VERSION}" in error and "damaged" in error
