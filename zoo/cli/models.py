"""`zoo predict`, `stream`, `models`, `info`, `evaluate`, `alias`, `export`, `migrate`, and
`pull`, `push` and `cache` (the hubs): commands that use registry models."""

from __future__ import annotations

import argparse
import json
import sys
from fnmatch import fnmatch
from pathlib import Path

from zoo.cli._common import hub_option, positive_int, print_metrics, registry_option
from zoo.constants import EXPORT_FORMATS, SPLITS


def cmd_predict(args: argparse.Namespace) -> None:
    """`zoo predict`: one JSON line per input, `{"input", "output"}`.

    Args:
        args: the parsed command line.
    """
    from zoo import registry

    model = registry.load(args.model, root=args.registry, hub=args.hub)
    inputs = [model.task.parse_cli_input(text) for text in args.inputs]
    for text, output in zip(args.inputs, model.predict_batch(inputs), strict=True):
        print(json.dumps({"input": text, "output": output}, ensure_ascii=False))


def cmd_stream(args: argparse.Namespace) -> None:
    """`zoo stream`: read a file or standard input in windows, one result line per window.

    Args:
        args: the parsed command line.
    """
    from zoo import registry
    from zoo.errors import BadInputError

    model = registry.load(args.model, root=args.registry)
    try:
        lines = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
        with lines:
            for read, result in enumerate(model.stream(lines, window=args.window), 1):
                print(f"after window {read}: {json.dumps(result, ensure_ascii=False)}")
    except (OSError, UnicodeDecodeError) as err:
        raise BadInputError(f"cannot read {args.file} as UTF-8 text: {err}") from err


def cmd_models(args: argparse.Namespace) -> None:
    """`zoo models`: list local models and the catalogue's, marking which catalogue models
    are downloaded; with `-v` their version, task, cell and metric.

    Args:
        args: the parsed command line.
    """
    from zoo.registry import catalogue, hub

    shipped = catalogue.models()
    local = hub.list_models(args.pattern, root=args.registry)
    names = sorted(set(local) | {n for n in shipped if fnmatch(n, args.pattern)})
    width = max(map(len, names), default=0)
    for name in names:
        status = "local"
        if name in shipped:
            pinned = catalogue.pin(name)[1]
            here = (
                (Path(args.registry) / name / str(pinned)).is_dir()
                if args.registry
                else hub.local_version(name, pinned)
            )
            status = "downloaded" if here else "not downloaded"
        if not args.verbose:
            print(f"{name:<{width}}  {status}")
        elif status == "not downloaded":  # from the catalogue: no download to list it
            entry = shipped[name]
            version = entry["versions"][str(pinned)]
            print(
                f"{name}@{pinned}  {entry['task']}  {entry['cell']}  {version['headline_metric']}="
                f"{version['metrics'].get('validation', float('nan')):.4f}  {status}"
            )
        else:
            from zoo import registry

            card = registry.verify(registry.resolve(name, root=args.registry))
            print(
                f"{name}@{card.version}  {card.task}  {card.cell}  "
                f"{card.headline_metric}={card.headline_value():.4f}  {status}"
            )


def cmd_pull(args: argparse.Namespace) -> None:
    """`zoo pull`: download catalogue models (their files checked against the catalogue).

    Args:
        args: the parsed command line.
    """
    from zoo.registry import hub

    for ref in args.models:
        path = hub.pull(ref, root=args.registry, hub=args.hub)
        print(f"{path.parent.name}@{path.name}: {path}")


def cmd_push(args: argparse.Namespace) -> None:
    """`zoo push`: write model versions into a hub folder in the static registry layout.

    Args:
        args: the parsed command line.
    """
    from zoo.registry import hub

    for ref in args.models:
        path = hub.push(ref, args.to, root=args.registry)
        print(f"{path.parent.name}@{path.name} -> {path}")


def cmd_cache(args: argparse.Namespace) -> None:
    """`zoo cache`: where downloaded models are, and with `--clear`, remove them.

    Args:
        args: the parsed command line.
    """
    from zoo.registry import hub, layout

    print(f"user registry: {layout.user_root()}")
    for path in hub.downloaded():
        size = sum(f.stat().st_size for f in path.iterdir()) / 1e6
        if args.clear:
            hub.remove(path)
        print(f"  {path.parent.name}@{path.name}  {size:.1f} MB{'  removed' if args.clear else ''}")


def cmd_info(args: argparse.Namespace) -> None:
    """`zoo info`: print a model version's `README.md` card.

    Args:
        args: the parsed command line.
    """
    from zoo import registry

    path = registry.resolve(args.model, root=args.registry)
    print((path / registry.README_FILE).read_text())


def cmd_evaluate(args: argparse.Namespace) -> None:
    """`zoo evaluate`: measure a registry model on a split of a dataset.

    Args:
        args: the parsed command line.
    """
    from zoo import registry

    model = registry.load(args.model, root=args.registry)
    dataset = model.task.dataset(args.dataset or model.training_dataset())
    metrics = model.evaluate(dataset, args.split)
    print(f"{model.name}@{model.version} on {dataset.tfds_name} ({args.split}):")
    print_metrics({args.split: metrics})


def cmd_alias(args: argparse.Namespace) -> None:
    """`zoo alias`: point an alias at a model version.

    Args:
        args: the parsed command line.
    """
    from zoo import registry

    path = registry.set_alias(args.model, args.alias, root=args.registry)
    print(f"{path.parent.name}:{args.alias} -> version {path.name}")


def cmd_export(args: argparse.Namespace) -> None:
    """`zoo export`: write a registry model as a SavedModel for TensorFlow Serving.

    Args:
        args: the parsed command line.
    """
    from zoo import registry
    from zoo.registry.export import export

    model = registry.load(args.model, root=args.registry)
    path = export(
        model, args.output or f"{model.name}-{model.version}-{args.format}", format=args.format
    )
    print(f"exported {model.name}@{model.version} to {path} (signature 'serving_default')")


def cmd_migrate(args: argparse.Namespace) -> None:
    """`zoo migrate`: convert models saved in the layout before 0.2 into new versions.

    Args:
        args: the parsed command line.
    """
    from zoo.registry.migrate import migrate

    for ref in args.models:
        path = migrate(ref, root=args.registry)
        print(
            f"{ref}: already in the current layout"
            if path is None
            else f"{ref}: migrated to {path.parent.name}@{path.name} (its aliases moved with it)"
        )


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the `zoo` parser.

    Args:
        sub: the `zoo` parser's sub-parsers.
    """
    p = sub.add_parser("predict", help="predict with a registry model on raw inputs")
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="a sentence, a JSON token list, or an image path, depending on the task",
    )
    registry_option(p)
    hub_option(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "stream",
        help="read a long text in windows, carrying the hidden state (stateful many-to-one models)",
        description="Score a document of any length, or text as it arrives, with a stateful copy of a unidirectional "
        "many-to-one model: prints the prediction on everything read so far after each window of tokens.",
    )
    p.add_argument(
        "model", help="NAME, NAME@VERSION or NAME:ALIAS (trained with --set bidirectional=false)"
    )
    p.add_argument("file", metavar="FILE", help="text file to read, or - for standard input")
    p.add_argument(
        "--window",
        type=positive_int,
        metavar="N",
        help="tokens per window (default: the model's max_tokens)",
    )
    registry_option(p)
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser(
        "models",
        help="list local models and the catalogue's, marking which are downloaded",
    )
    p.add_argument("pattern", nargs="?", default="*", help="shell-style wildcard, e.g. '*lstm*'")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="show version, task, cell and headline metric"
    )
    registry_option(p)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("info", help="show a registry model's card")
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    registry_option(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("evaluate", help="measure a registry model on a dataset split")
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    p.add_argument(
        "--dataset", help="one of the task's datasets (default: the one it was trained on)"
    )
    p.add_argument("--split", choices=SPLITS, default="test", help="split role (default: test)")
    registry_option(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("alias", help="point an alias (e.g. production) at a model version")
    p.add_argument("model", help="NAME@VERSION (or NAME:ALIAS) to point at")
    p.add_argument("alias", help="the alias to set; 'latest' and 'best' are kept by the registry")
    registry_option(p)
    p.set_defaults(func=cmd_alias)

    p = sub.add_parser("export", help="export a registry model for TensorFlow Serving")
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    p.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        default="savedmodel",
        help="export format (default: savedmodel)",
    )
    p.add_argument(
        "--output", metavar="DIR", help="new folder to write (default: NAME-VERSION-FORMAT)"
    )
    registry_option(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "migrate",
        help="convert models saved by an older zoo (text processing inside the model) into new versions",
        description="Rebuild each model in today's layout (the Keras model reads ids; its preprocessing makes them), "
        "move the weights by layer name, check that the reference outputs are reproduced, and publish it as the "
        "next version; the old version's aliases move to it. Models already in today's layout are left alone.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help="NAME, NAME@VERSION or NAME:ALIAS")
    registry_option(p)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser(
        "pull",
        help="download catalogue models from a hub, checked against their pinned SHA-256",
        description="Download catalogue models into the user registry ($ZOO_REGISTRY, else the platform's user "
        "data folder; see `zoo cache`). Every file is checked against the SHA-256 in the zoo's catalogue "
        "before the version appears; a version already on disk is used without any network call.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help="NAME, NAME@VERSION or NAME:ALIAS")
    registry_option(p)
    hub_option(p)
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser(
        "push",
        help="write model versions into a folder that a web server can serve as a hub",
        description="Copy each version, in the registry layout, into DIR, with its entry in DIR/catalogue.json; "
        "serve DIR with any web server (e.g. `python -m http.server -d DIR`) and point ZOO_HUB at it.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help="NAME, NAME@VERSION or NAME:ALIAS")
    p.add_argument("--to", required=True, metavar="DIR", help="the hub folder (created if missing)")
    registry_option(p)
    p.set_defaults(func=cmd_push)

    p = sub.add_parser(
        "cache",
        help="show where downloaded models are; --clear removes them",
        description="Print the user registry's folder and the catalogue models downloaded into it. "
        "--clear removes those downloads (they can be pulled again); models you trained are never touched.",
    )
    p.add_argument("--clear", action="store_true", help="remove the downloaded catalogue models")
    p.set_defaults(func=cmd_cache)
