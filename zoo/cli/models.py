"""`zoo predict`, `stream`, `models`, `info`, `evaluate`, `alias`, `export`, `migrate`,
`package` (a model as a wheel), and `pull`, `push` and `cache` (the hubs): commands that use
registry models."""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import sys
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from zoo.cli import _inputs
from zoo.cli._common import (
    dataset,
    file_options,
    hub_option,
    positive_int,
    print_metrics,
    registry_option,
)
from zoo.constants import (
    ALL_EXAMPLES,
    CLASSIFICATION_FORMATS,
    COUNT_METRICS,
    EXPORT_FORMATS,
    INPUT_FORMATS,
    QUANTIZATIONS,
    SPLITS,
)

#: inputs predicted at once by `zoo predict` unless --batch-size says otherwise
PREDICT_BATCH_SIZE = 64


def _predict_batch(
    model: Any, batch: list[tuple[int | None, Any]], where: str, **options: Any
) -> list[Any]:
    """Results for one batch of `(line, input)` (`options` for the task's `predict`); an
    input that cannot be read is named by its line (or its position among the arguments)."""
    from zoo.errors import BadInputError
    from zoo.serving.batching import predict_each

    def place(line: int | None, position: int) -> str:
        return f"{where}, line {line}" if line is not None else f"input {position}"

    raw = []
    for position, (line, value) in enumerate(batch, 1):
        try:  # a string is read as on the command line (e.g. a JSON token list)
            raw.append(model.task.parse_cli_input(value) if isinstance(value, str) else value)
        except BadInputError as err:
            raise BadInputError(f"{place(line, position)}: {err}") from err
    results = predict_each(functools.partial(model.predict_batch, **options), raw)
    for position, (result, (line, _)) in enumerate(zip(results, batch, strict=True), 1):
        if isinstance(result, BadInputError):
            raise BadInputError(f"{place(line, position)}: {result}") from result
    return results


def _writable_png(path: str) -> bool:
    """Whether a plot can be written at `path`: its folder exists."""
    return Path(path).expanduser().resolve().parent.is_dir()


def cmd_predict(args: argparse.Namespace) -> None:
    """`zoo predict`: one JSON line per input, `{"input", "output"}` (with `"line"` for
    inputs read from `--input`), in batches, with a progress bar on a terminal.

    Args:
        args: the parsed command line.

    Raises:
        ZooError: both or neither of INPUT arguments and `--input`; input-file options without
            `--input`.
        BadInputError: an input that cannot be read (its line named), or a file with no input.
    """
    from tqdm import tqdm

    from zoo import registry
    from zoo.errors import BadInputError, ZooError

    if bool(args.inputs) == bool(args.input):
        raise ZooError(
            "give the inputs as arguments or in a file with --input FILE (one of the two)."
        )
    if not args.input and (args.input_format or args.column or args.encoding):
        raise ZooError("--input-format, --column and --encoding read an --input FILE.")
    if args.attention_plot:
        _predict_with_attention_plot(args)
        return
    if args.input:
        fmt = _inputs.input_format(args.input, args.input_format)
        inputs = _inputs.read_inputs(
            args.input, fmt, column=args.column, encoding=args.encoding or "utf-8"
        )
        if inputs.blank:
            shown = ", ".join(map(str, inputs.blank[:10])) + (
                ", ..." if len(inputs.blank) > 10 else ""
            )
            print(
                f"zoo: skipped {len(inputs.blank)} blank input(s) of {inputs.where}: line {shown}",
                file=sys.stderr,
            )
        if not inputs.records:
            raise BadInputError(f"{inputs.where}: no inputs (nothing but blank lines).")
    else:
        inputs = _inputs.Inputs("the arguments", [(None, text) for text in args.inputs])
    model = registry.load(args.model, root=args.registry, hub=args.hub)
    options = {}
    if args.top_k is not None:
        if "top_k" not in inspect.signature(model.task.predict).parameters:
            raise ZooError(
                f"--top-k ranks a classifier's labels; {model.name} is a {model.task.name} model: drop --top-k."
            )
        options["top_k"] = args.top_k
    size = args.batch_size or PREDICT_BATCH_SIZE
    table = _inputs.ResultTable() if _inputs.writes_csv(args.output) else None
    with (
        _inputs.output(args.output) as out,
        tqdm(
            total=len(inputs.records),
            unit="input",
            # on a terminal only (None), and only for a file: a few arguments need no bar
            disable=None if args.input else True,
            file=sys.stderr,
        ) as progress,
    ):
        for start in range(0, len(inputs.records), size):
            batch = inputs.records[start : start + size]
            for (line, value), result in zip(
                batch, _predict_batch(model, batch, inputs.where, **options), strict=True
            ):
                if table is not None:
                    table.add(line, value, result)
                else:
                    out.write(_inputs.result_line(line, value, result) + "\n")
            progress.update(len(batch))
        if table is not None:
            table.write(out)


def _predict_with_attention_plot(args: argparse.Namespace) -> None:
    """`zoo predict MODEL INPUT --attention-plot PNG`: the result line, and the output's
    attention drawn over the input into PNG (`zoo.models.plots.plot_attention`).

    Args:
        args: the parsed command line.

    Raises:
        ZooError: not exactly one INPUT argument.
        BadInputError: the input cannot be read, or the model does not attend.
    """
    from zoo import registry
    from zoo.errors import ZooError
    from zoo.models.plots import plot_attention

    if args.input or len(args.inputs) != 1:
        raise ZooError("--attention-plot draws one input: give exactly one INPUT argument.")
    plot = Path(args.attention_plot)
    if plot.is_dir() or not plot.resolve().parent.is_dir():
        raise ZooError(f"--attention-plot {plot}: give a file in an existing folder.")
    model = registry.load(args.model, root=args.registry, hub=args.hub)
    (value,) = args.inputs
    result = model.predict(model.task.parse_cli_input(value), return_attention=True)
    plot_attention(result.pop("attention"), args.attention_plot)
    with _inputs.output(args.output) as out:
        out.write(_inputs.result_line(None, value, result) + "\n")


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
    """`zoo models`: list local models, installed model packages and the catalogue's,
    marking which catalogue models are downloaded and which come from a package (where a
    name is in several places, where `load` finds it first); with `-l/--long` their
    version, task, cell and metric. A pattern that matches nothing says so.

    Args:
        args: the parsed command line.
    """
    from zoo.registry import catalogue, hub, layout, packages

    shipped = catalogue.models()
    local = hub.list_models(args.pattern, root=args.registry)
    names = sorted(set(local) | {n for n in shipped if fnmatch(n, args.pattern)})
    if not names:
        print(
            f"no model matches {args.pattern!r} (local or in the catalogue); `zoo models` lists them all"
        )
        return
    width = max(map(len, names), default=0)
    roots = [] if args.registry else layout.search_roots()
    installed = {} if args.registry else packages.installed()
    for name in names:
        status = "local"
        first = next((root for root in roots if (root / name).is_dir()), None)
        package = installed.get(name)
        if package is not None and first == package.root:
            status = f"installed ({package.distribution} {package.version})"
        elif name in shipped:
            pinned = catalogue.pin(name)[1]
            here = (
                (Path(args.registry) / name / str(pinned)).is_dir()
                if args.registry
                else hub.local_version(name, pinned)
            )
            status = "downloaded" if here else "not downloaded"
        if not args.long:
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


def cmd_package(args: argparse.Namespace) -> None:
    """`zoo package`: build a model version's wheel (`zoo.registry.packages.build`).

    Args:
        args: the parsed command line.
    """
    from zoo.registry import packages

    wheel = packages.build(args.model, args.output, root=args.registry, hub=args.hub)
    print(f"built {wheel}; install it with: pip install {wheel}")


def cmd_info(args: argparse.Namespace) -> None:
    """`zoo info`: print a model version's `README.md` card.

    Args:
        args: the parsed command line.
    """
    from zoo import registry

    path = registry.resolve(args.model, root=args.registry)
    print((path / registry.README_FILE).read_text())


def cmd_evaluate(args: argparse.Namespace) -> None:
    """`zoo evaluate`: measure a registry model on a split of a dataset, or on the user's
    files (`--data`, `--format`), and name the gold labels or tags the model does not know.

    Args:
        args: the parsed command line.

    Raises:
        ZooError: both `--dataset` and `--data`.
        BadInputError: `--data` is the model's own training files read with other options
            (`Model.evaluate`).
    """
    from zoo import registry
    from zoo.errors import BadInputError, ZooError

    if args.dataset and args.data:
        raise ZooError("give --dataset KEY or --data PATH --format FORMAT, not both.")
    model = registry.load(args.model, root=args.registry)
    # a validation split of --data is made with the model's own seed: given its own training
    # files, it is then the model's own validation split (another seed would mix training
    # examples into it)
    source = model.card.dataset.source or {}
    seeded = source.get("seeded_split")
    args.seed = seeded["seed"] if seeded else None
    # and per class or not, as the model's was (cards from before the option: not)
    if seeded and args.stratify is None and args.format in CLASSIFICATION_FORMATS:
        args.stratify = source.get("options", {}).get("stratify", False)
    # the files of --data, else --dataset, else the data the model was trained on
    spec = model.task.dataset(dataset(args) or model.training_dataset())
    split, why = (args.split, "") if args.split else model.evaluation_split(spec)
    if args.plot and not _writable_png(args.plot):
        raise BadInputError(
            f"--plot {args.plot}: its folder does not exist; create it or choose another path."
        )
    metrics = model.evaluate(spec, split)
    shown = f"{split}: {why}" if why and split != "test" else split
    print(f"{model.name}@{model.version} on {spec.tfds_name} ({shown}):")
    print_metrics({split: metrics})
    if args.plot:
        if "confusion_matrix" not in metrics:
            raise BadInputError(
                f"--plot draws a single-label classifier's confusion matrix; {model.name} "
                f"({model.task.name}) has none: drop --plot."
            )
        from zoo.models.plots import plot_confusion_matrix

        title = f"{model.name}@{model.version}\n{spec.tfds_name} ({split})"
        print(
            f"  confusion matrix: {plot_confusion_matrix(metrics['confusion_matrix'], args.plot, title)}"
        )
    if any(name in metrics for name in COUNT_METRICS):  # some examples carry unknown names
        for feature, (unknown, known) in model.task.unknown_labels(spec).items():
            print(
                f"  {feature}: the model does not know {', '.join(unknown)} (it knows "
                f"{', '.join(known)}); each one counts wrong: rename them to compare"
            )


def cmd_alias(args: argparse.Namespace) -> None:
    """`zoo alias`: point an alias at a model version.

    Args:
        args: the parsed command line.
    """
    from zoo import registry

    path = registry.set_alias(args.model, args.alias, root=args.registry)
    print(f"{path.parent.name}:{args.alias} -> version {path.name}")


def cmd_export(args: argparse.Namespace) -> None:
    """`zoo export`: write a registry model into a new folder for another runtime
    (`zoo.registry.export.export`).

    Args:
        args: the parsed command line.
    """
    from zoo import registry
    from zoo.registry.export import export

    model = registry.load(args.model, root=args.registry)
    suffix = f"-{args.quantize}" if args.quantize else ""
    path = export(
        model,
        args.output or f"{model.name}-{model.version}-{args.format}{suffix}",
        format=args.format,
        quantize=args.quantize,
    )
    print(f"exported {model.name}@{model.version} as {args.format}{suffix} to {path}")


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
    p = sub.add_parser(
        "predict",
        help="predict with a registry model on raw inputs, or on every input of a file",
        description="Predict on INPUT arguments, or on the inputs of a file (--input): one JSON line of results "
        "per input. From a file, blank inputs are skipped and counted on stderr, each result carries its line, "
        "and an --output file appears only once every input has been predicted.",
    )
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="a sentence, a JSON token list, or an image path, depending on the task",
    )
    files = p.add_argument_group("inputs from a file")
    files.add_argument(
        "--input",
        metavar="FILE",
        help="read the inputs from FILE (- for standard input): one a line, a JSONL field or a CSV column; "
        "image tasks read image paths",
    )
    files.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        help="lines, jsonl or csv (default: by the file's ending: .jsonl/.ndjson, .csv/.tsv, else lines)",
    )
    files.add_argument(
        "--column",
        metavar="NAME",
        help=f"the JSONL field or CSV column holding the input (default: {_inputs.DEFAULT_COLUMN})",
    )
    files.add_argument("--encoding", help="text encoding of FILE (default: utf-8)")
    p.add_argument(
        "--output",
        metavar="FILE",
        help="write the JSON lines to FILE instead of standard output (- for standard output); "
        "a FILE ending in .csv gets a CSV table instead: a column per result field, one per "
        "label's probability (probabilities.NAME)",
    )
    p.add_argument(
        "--top-k",
        type=positive_int,
        metavar="N",
        help="classifiers (many-to-one): keep the N most probable labels' probabilities "
        "(default: every label; binary models give them only with --top-k)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help=f"inputs predicted at once (default: {PREDICT_BATCH_SIZE})",
    )
    p.add_argument(
        "--attention-plot",
        metavar="PNG",
        help="draw where the model looked for each output word, one panel per word, into PNG "
        "(captioning models with attention; one INPUT)",
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
        help="list local models, installed model packages and the catalogue's, marking which are downloaded",
    )
    p.add_argument("pattern", nargs="?", default="*", help="shell-style wildcard, e.g. '*lstm*'")
    p.add_argument(
        "-l",
        "--long",
        action="store_true",
        help="show version, task, cell and headline metric (--verbose shows TensorFlow's log lines, "
        "as for every command)",
    )
    registry_option(p)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser(
        "package",
        help="build a pip-installable wheel of a model version",
        description="Build rnn_zoo_model_<name>-<version>-py3-none-any.whl in DIR: the version's files, card "
        "and a manifest of every file's SHA-256, with an entry point in the group rnn_zoo.models and a "
        "requirement on this zoo version or a later one. Once installed (pip install WHEEL), `zoo models` lists "
        "it and `zoo predict NAME` loads it by name, offline, its files checked on every load; the user "
        "registry and a source checkout's saved_models/ come before installed packages, the hubs after them.",
    )
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    p.add_argument(
        "--output",
        required=True,
        metavar="DIR",
        help="folder to write the wheel into (created if missing; an existing wheel is never replaced)",
    )
    registry_option(p)
    hub_option(p)
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("info", help="show a registry model's card")
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    registry_option(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "evaluate",
        help="measure a registry model on a dataset split, or on your own labelled files",
        description="Measure a model on a split of a TFDS dataset, or on your files (--data, --format: the formats "
        "of `zoo train`). Labels and tags are matched by name: examples whose label the model does not know count "
        "wrong, and are counted and named.",
    )
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    p.add_argument(
        "--dataset", help="one of the task's datasets (default: the one it was trained on)"
    )
    file_options(p, "evaluating on files instead of a TFDS dataset (see zoo.data.formats)")
    p.add_argument(
        "--split",
        choices=(*SPLITS, ALL_EXAMPLES),
        help="split role, or all of them (default: test where the data has one; else validation of "
        "the data the model was trained on, or all of other data)",
    )
    p.add_argument(
        "--plot",
        metavar="PNG",
        help="single-label classifiers: draw the confusion matrix, normalised by true class, into PNG",
    )
    registry_option(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("alias", help="point an alias (e.g. production) at a model version")
    p.add_argument("model", help="NAME@VERSION (or NAME:ALIAS) to point at")
    p.add_argument("alias", help="the alias to set; 'latest' and 'best' are kept by the registry")
    registry_option(p)
    p.set_defaults(func=cmd_alias)

    p = sub.add_parser(
        "export",
        help="export a registry model for TensorFlow Serving, ONNX Runtime or LiteRT",
        description="Write a new folder with the model's graph(s), export.json (inputs, outputs, how the "
        "recurrent loop was exported, SHA-256 of every file), preprocessing.json, card.json and a README. "
        "savedmodel: a SavedModel taking raw inputs (savedmodel/); onnx: ONNX graphs of any length; "
        "litert: LiteRT graphs unrolled at a fixed length. Captioning and translation models export an "
        "encoder and a one-step decoder. onnx and litert need the export extra "
        '(pip install "rnn-zoo[export]"). The folder appears only when complete.',
    )
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    p.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        default="savedmodel",
        help="export format (default: savedmodel)",
    )
    p.add_argument(
        "--quantize",
        choices=QUANTIZATIONS,
        help="onnx only: ONNX Runtime's dynamic int8 quantisation of every graph",
    )
    p.add_argument(
        "--output",
        metavar="DIR",
        help="new folder to write (default: NAME-VERSION-FORMAT[-int8])",
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
