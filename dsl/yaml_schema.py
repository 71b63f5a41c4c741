"""A JSON Schema of rtc's YAML source format, for YAML editors (`rtc schema --format yaml-source`).

It describes what `dsl/yaml_frontend.py` reads (docs/language.md shows each
key), so an editor with a YAML extension completes keys and flags unknown
ones as the user types. The compiler stays the judge: the schema is
deliberately loose about values the front end converts (durations, `${{ }}`
references, Exosphere's alternative spellings) and checks only shapes.
Draft-07, which the common YAML extensions support.
"""

from __future__ import annotations

STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
NUMBER_OR_STRING = {"type": ["number", "string"]}
DURATION = {"type": ["string", "number"], "description": "a duration such as 300s, 1.5h, 2h45m, 500ms or 1d"}
NAME_MAP = {"type": "object", "additionalProperties": {"$ref": "#/definitions/value"}}


def _object(properties: dict, required: tuple[str, ...] = (), description: str | None = None) -> dict:
    out: dict = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    if description:
        out["description"] = description
    return out


def _named(definition: str, description: str) -> dict:
    return {"type": "object", "description": description, "additionalProperties": {"$ref": f"#/definitions/{definition}"}}


PORT = {
    "anyOf": [
        {"type": "string", "description": "a type: str int float bool json list[T] dict[str, T]"},
        _object({"type": STRING, "default": {"$ref": "#/definitions/value"}}),
    ]
}
RETRY = _object(
    {
        "max_retries": {"type": "integer", "minimum": 0},
        "strategy": {"type": "string", "description": "exponential, linear or fixed (any case)"},
        "delay": DURATION,
        "backoff_factor": DURATION,
        "max_delay": DURATION,
        "jitter": {"type": "boolean"},
    }
)
CODESPEC = _object(
    {
        "name": STRING,
        "image": STRING,
        "buffers": _object({"inputs": STRINGS, "outputs": STRINGS}),
        "command": {"anyOf": [STRINGS, STRING]},
        "args": STRINGS,
        "workingDir": STRING,
        "env": {"type": "object", "additionalProperties": NUMBER_OR_STRING},
        "resources": {"type": "object"},
        "maxReplicas": {"type": "integer", "minimum": 1},
        "kind": {"enum": ["job", "worker"]},
        "endpoints": {"type": "object", "additionalProperties": {"type": "integer"}},
        "version": {"type": "integer"},
        "identity": STRING,
        "sockets": {
            "type": "array",
            "description": "buffers relayed to TCP ports the job listens on (job codespecs)",
            "items": _object({"port": {"type": "integer", "minimum": 1, "maximum": 65535},
                              "inputBuffer": STRING, "outputBuffer": STRING}, required=("port",)),
        },
    },
    description="a Tyger codespec",
)
RUN_PART = _object(
    {
        "codespec": {"anyOf": [STRING, {"$ref": "#/definitions/codespec"}]},
        "buffers": {"type": "object", "additionalProperties": STRING},
        "tags": {"type": "object", "additionalProperties": STRING},
        "nodePool": STRING,
        "replicas": {"type": "integer", "minimum": 1},
    }
)
RUN = _object(
    {
        "job": {"$ref": "#/definitions/runPart"},
        "worker": {"$ref": "#/definitions/runPart"},
        "cluster": STRING,
        "timeoutSeconds": {"type": "integer", "minimum": 1},
        "timeout": DURATION,
        "schedule": STRING,
        "kind": STRING,
    },
    required=("job",),
    description="a Tyger run",
)


def yaml_source_schema() -> dict:
    env = _object(
        {
            "base": {"type": "string", "description": "build FROM this image"},
            "image": {"type": "string", "description": "a ready image, used as it is"},
            "pip": STRINGS,
            "apt": STRINGS,
            "workdir": STRING,
            "environ": {"type": "object", "additionalProperties": NUMBER_OR_STRING},
            "copy": {"type": "array", "items": _object({"host": STRING, "container": STRING}, ("host", "container"))},
            "mounts": {"type": "array", "items": _object({"host": STRING, "container": STRING, "readonly": {"type": "boolean"}}, ("host", "container"))},
            "mount": {"$ref": "#/definitions/env/properties/mounts"},
            "expose": {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"type": "integer"},
                        _object({"port": {"type": "integer"}, "host_port": {"type": "integer"}, "host_ip": STRING, "service": STRING}, ("port",)),
                    ]
                },
            },
            "daemons": {"type": "array", "items": STRINGS},
            "daemon": {"type": "array", "items": STRINGS},
            "init": STRINGS,
            "commands": {"type": "object", "additionalProperties": {"anyOf": [STRING, STRINGS]}},
        },
        description="an environment (envd)",
    )
    node = _object(
        {
            "env": {"type": "string", "description": "the name of an env"},
            "inputs": {"type": "object", "additionalProperties": PORT},
            "outputs": {"type": "object", "additionalProperties": PORT},
            "secrets": {"anyOf": [STRINGS, {"type": "object"}]},
            "python": {"type": "string", "description": "module:Class of a BaseNode"},
            "command": {"anyOf": [STRINGS, STRING]},
            "fanout": {"type": "boolean"},
            "retries": {"type": "integer", "minimum": 0},
            "retry": RETRY,
            "retry_policy": RETRY,
            "timeout": DURATION,
        },
        required=("env",),
        description="a unit of work (Exosphere node)",
    )
    step = _object(
        {
            "node": STRING,
            "inputs": NAME_MAP,
            "unites": {"anyOf": [{"enum": ["ALL_DONE", "ALL_SUCCESS"]}, _object({"identifier": STRING, "strategy": STRING})]},
            "after": STRINGS,
            "next_nodes": STRINGS,
        },
        required=("node",),
        description="a step: `${{ STEP.outputs.NAME }}` / `${{ params.NAME }}` / `${{ each(...) }}` wire values",
    )
    graph = _object(
        {
            "schedule": {"type": "string", "description": "cron (5 fields) or @hourly @daily @weekly @monthly @yearly @once"},
            "workers": {"type": "integer", "minimum": 1},
            "tags": STRINGS,
            "on": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}],
                   "description": "runs after a run of GRAPH succeeds, or after GRAPH.STEP.OUTPUT is recorded (besides `schedule`)"},
            "params": {"type": "object", "additionalProperties": PORT},
            "steps": {"type": "object", "additionalProperties": {"$ref": "#/definitions/step"}},
        },
        description="a graph of steps (Exosphere)",
    )
    exosphere_retry = _object(
        {
            "max_retries": {"type": "integer", "minimum": 0},
            "strategy": {"type": "string", "description": "EXPONENTIAL, LINEAR or FIXED, each also _FULL_JITTER / _EQUAL_JITTER"},
            "backoff_factor": DURATION,
            "exponent": {"type": "number"},
            "max_delay": DURATION,
        }
    )
    exosphere_node = _object(
        {
            "node_name": STRING,
            "namespace": STRING,
            "identifier": STRING,
            "inputs": NAME_MAP,
            "next_nodes": STRINGS,
            "unites": {"anyOf": [{"enum": ["ALL_DONE", "ALL_SUCCESS"]}, _object({"identifier": STRING, "strategy": STRING})]},
        },
        required=("node_name", "identifier"),
    )
    exosphere_template = _object(
        {
            "name": STRING,
            "namespace": STRING,
            "secrets": {"anyOf": [STRINGS, {"type": "object"}]},
            "nodes": {"type": "array", "items": exosphere_node},
            "store_config": _object({"required_keys": STRINGS, "default_values": NAME_MAP}),
            "retry_policy": exosphere_retry,
            "triggers": {"type": "array", "items": _object({"type": STRING, "value": {"type": "object"}})},
        },
        required=("nodes",),
        description="an Exosphere graph template, as Exosphere's upsert_graph takes it (docs/language.md)",
    )
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://rtc.invalid/schemas/rtc-yaml.schema.json",
        "title": "rtc pipeline (YAML)",
        "description": "rtc's YAML source format (docs/language.md); Tyger codespec and run-spec files and Exosphere graph templates are accepted too.",
        "definitions": {
            "value": {"description": "a literal, or a `${{ ... }}` reference"},
            "env": env,
            "node": node,
            "step": step,
            "graph": graph,
            "codespec": CODESPEC,
            "runPart": RUN_PART,
            "run": RUN,
            "exosphereTemplate": exosphere_template,
        },
        "anyOf": [
            {
                "type": "object",
                "properties": {
                    "namespace": STRING,
                    "imports": STRINGS,
                    "envs": _named("env", "environments by name"),
                    "nodes": _named("node", "nodes by name"),
                    "graphs": _named("graph", "graphs by name"),
                    "codespecs": _named("codespec", "Tyger codespecs by name"),
                    "runs": _named("run", "Tyger runs by name"),
                },
                "patternProperties": {"^x-": {}},
                "additionalProperties": False,
            },
            {"$ref": "#/definitions/codespec"},
            {"$ref": "#/definitions/run"},
            {"$ref": "#/definitions/exosphereTemplate"},
        ],
    }
