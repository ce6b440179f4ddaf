"""What the server says about itself: the model page (`GET /`: plain HTML and a few lines
of JavaScript calling the JSON API, no build step) and the OpenAPI description."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from zoo.serving.models import ServedModel

_SCRIPT = """
async function tryModel(form) {
  const out = form.querySelector("pre");
  let instance = form.elements.input.value;
  if (form.elements.input.type === "file") {
    const file = form.elements.input.files[0];
    if (!file) { out.textContent = "choose an image"; return false; }
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = "";
    bytes.forEach((b) => { binary += String.fromCharCode(b); });
    instance = {b64: btoa(binary)};
  }
  const response = await fetch(form.action, {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({instances: [instance]})});
  out.textContent = response.status + " " + JSON.stringify(await response.json(), null, 2);
  return false;
}
"""


def _metrics(card: dict[str, Any]) -> str:
    """The card's numeric metrics as table rows, one per split and metric."""
    rows = [
        f"<tr><td>{escape(split)}</td><td>{escape(name)}</td><td>{value:.4f}</td></tr>"
        for split, values in (card.get("metrics") or {}).items()
        for name, value in values.items()
        if isinstance(value, float)
    ]
    return f"<table><tr><th>split</th><th>metric</th><th>value</th></tr>{''.join(rows)}</table>"


def _section(model: ServedModel) -> str:
    """One model's part of the page: its card, curves and a form to try it."""
    card, ref = model.card, f"/v1/models/{model.name}/versions/{model.version}"
    dataset = card.get("dataset") or {}
    field = (
        '<input name="input" type="file" accept="image/*">'
        if model.reads_images
        else '<textarea name="input" rows="2" cols="80"></textarea>'
    )
    curves = (
        f'<img src="{ref}/training_curves.png" alt="training curves" width="640">'
        if model.curves
        else ""
    )
    return f"""
<section>
<h2>{escape(model.name)}@{model.version}</h2>
<p>{escape(str(card.get("example", model.task)))} ({escape(model.task)}, {escape(str(card.get("cell")))}),
trained on {escape(str(dataset.get("tfds_name", "?")))}; runs on {escape(model.runtime)}.
<a href="{ref}/metadata">card and metadata (JSON)</a></p>
{_metrics(card)}
{curves}
<form action="{ref}:predict" onsubmit="tryModel(this); return false;">
<label>{escape(model.input_description)}<br>{field}</label>
<button type="submit">predict</button>
<pre></pre>
</form>
</section>"""


def html(models: list[ServedModel]) -> str:
    """The model page.

    Args:
        models: the models to show, one section each.

    Returns:
        A complete HTML document.
    """
    sections = "".join(_section(m) for m in models)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>zoo serve</title>
<style>body {{font-family: sans-serif; max-width: 60em; margin: auto}}
td, th {{padding: 0 1em; text-align: left}} pre {{background: #eee}}</style>
<script>{_SCRIPT}</script></head>
<body><h1>zoo serve</h1>
<p>TensorFlow Serving's REST API: <code>POST /v1/models/NAME:predict</code> with
<code>{escape(json.dumps({"instances": ["..."]}))}</code>; <a href="/openapi.json">OpenAPI</a>.</p>
{sections}
</body></html>"""


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi(names: list[str]) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the server's API.

    Args:
        names: the served models' names (listed as the values `NAME` takes).

    Returns:
        The OpenAPI document.
    """
    error = {"type": "object", "properties": {"error": {"type": "string"}}}
    errors = {
        "400": _json_body(error, "malformed JSON, or an instance the model refuses (named)"),
        "404": _json_body(error, "no such model or version"),
        "413": _json_body(error, "too many instances, or a body over --max-body"),
        "503": _json_body(error, "the model's queue is full; see Retry-After"),
    }
    name = {"name": "name", "in": "path", "required": True, "schema": {"enum": names}}
    version = {"name": "version", "in": "path", "required": True, "schema": {"type": "integer"}}
    predict = {
        "post": {
            "summary": "predict: each prediction is the JSON result `zoo predict` prints",
            "requestBody": {
                "required": True,
                **_json_body(
                    {
                        "type": "object",
                        "required": ["instances"],
                        "properties": {"instances": {"type": "array", "minItems": 1}},
                    },
                    'texts, token lists, or images as {"b64": ...} or pixel arrays',
                ),
            },
            "responses": {
                "200": _json_body(
                    {"type": "object", "properties": {"predictions": {"type": "array"}}},
                    "one prediction per instance",
                ),
                **errors,
            },
        }
    }
    plain = {"200": {"description": "OK"}, "404": errors["404"]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "zoo serve", "version": "1"},
        "paths": {
            "/v1/models/{name}:predict": {"parameters": [name], **predict},
            "/v1/models/{name}/versions/{version}:predict": {
                "parameters": [name, version],
                **predict,
            },
            "/v1/models/{name}": {
                "parameters": [name],
                "get": {"summary": "status of the served versions", "responses": plain},
            },
            "/v1/models/{name}/metadata": {
                "parameters": [name],
                "get": {"summary": "the model card and its input and output", "responses": plain},
            },
            "/healthz": {"get": {"summary": "alive", "responses": {"200": {"description": "OK"}}}},
            "/readyz": {
                "get": {
                    "summary": "every model loaded and warmed up",
                    "responses": {
                        "200": {"description": "ready"},
                        "503": {"description": "not yet"},
                    },
                }
            },
            "/": {"get": {"summary": "the model page (HTML)", "responses": plain}},
        },
    }
