"""Every diagnostic code the checker reports, with a one-line title.

docs/diagnostics.md documents each code (meaning, example, fix) and
tests/invalid/ holds one failing source per code; a test keeps the three in
step. Codes are grouped by hundreds: E2xx block structure, E3xx names and
references, E4xx types and wiring, E5xx values that a target would reject.
"""

from __future__ import annotations

TITLES = {
    "E200": "unknown attribute",
    "E201": "missing required attribute",
    "E202": "attribute value of the wrong shape",
    "E203": "item not allowed in this block",
    "E204": "attribute given twice",
    "E205": "conflicting attributes",
    "E206": "env needs exactly one of `base` and `image`",
    "E207": "node needs exactly one of `python` and `command`",
    "E208": "value out of range or not one of the allowed values",
    "E300": "unknown environment",
    "E301": "unknown node",
    "E302": "unknown step",
    "E303": "unknown output",
    "E304": "unknown param",
    "E305": "unknown codespec",
    "E306": "unknown input",
    "E307": "unknown buffer",
    "E308": "step argument is not a literal, params.NAME, STEP.OUTPUT, each(...) or last(...)",
    "E310": "duplicate definition",
    "E311": "duplicate name inside a block",
    "E312": "unknown Python module or class",
    "E313": "Python node file that does not parse",
    "E314": "a node class Exosphere's Runtime refuses",
    "E315": "unknown graph",
    "E400": "unknown type",
    "E401": "type mismatch",
    "E402": "each() or last() of a value that is not a list",
    "E403": "missing required input",
    "E404": "param default of the wrong type",
    "E405": "fanned-out inputs whose lists need not pair up",
    "E407": "cycle between steps",
    "E408": "port or param without a type",
    "E409": "ports written in the pipeline disagree with the Python class",
    "E410": "an Exosphere fan-out that rtc cannot express",
    "E411": "cycle of graph triggers (`on`)",
    "E412": "trigger on something a run does not record as an output",
    "E413": "a step reads another graph's output that its graph is not `on`",
    "E414": "a graph with `on` has a param without a default",
    "E500": "name that Airflow or Prefect would reject",
    "E501": "bad duration",
    "E502": "bad cron expression",
    "E503": "bad port",
    "E504": "bad Docker image reference",
    "E505": "bad environment variable name",
    "E506": "bad Tyger name",
    "E507": "bad replica count",
    "E508": "codespec of the wrong kind",
    "E509": "unknown codespec version",
    "E510": "copied file or folder does not exist",
    "E511": "bad listen address",
    "E512": "copied file or folder outside the pipeline's folder",
    "E513": "tag longer than Airflow accepts",
    "E514": "environment variable the kernel would refuse",
}

UNKNOWN_ATTRIBUTE = "E200"
MISSING_ATTRIBUTE = "E201"
WRONG_SHAPE = "E202"
MISPLACED_ITEM = "E203"
DUPLICATE_ATTRIBUTE = "E204"
CONFLICTING_ATTRIBUTES = "E205"
BASE_OR_IMAGE = "E206"
PYTHON_OR_COMMAND = "E207"
BAD_VALUE = "E208"
UNKNOWN_ENV = "E300"
UNKNOWN_NODE = "E301"
UNKNOWN_STEP = "E302"
UNKNOWN_OUTPUT = "E303"
UNKNOWN_PARAM = "E304"
UNKNOWN_CODESPEC = "E305"
UNKNOWN_INPUT = "E306"
UNKNOWN_BUFFER = "E307"
BAD_ARGUMENT = "E308"
DUPLICATE_DEFINITION = "E310"
DUPLICATE_MEMBER = "E311"
UNKNOWN_PYTHON = "E312"
PYTHON_SYNTAX = "E313"
RUNTIME_REFUSES = "E314"
UNKNOWN_GRAPH = "E315"
UNKNOWN_TYPE = "E400"
TYPE_MISMATCH = "E401"
EACH_NOT_LIST = "E402"
MISSING_INPUT = "E403"
BAD_DEFAULT = "E404"
SEVERAL_EACH = "E405"
CYCLE = "E407"
MISSING_TYPE = "E408"
PORTS_DISAGREE = "E409"
TEMPLATE_FANOUT = "E410"
TRIGGER_CYCLE = "E411"
NOT_RECORDED = "E412"
NOT_ON = "E413"
TRIGGERED_PARAM = "E414"
BAD_NAME = "E500"
BAD_DURATION = "E501"
BAD_CRON = "E502"
BAD_PORT = "E503"
BAD_IMAGE = "E504"
BAD_ENV_VAR = "E505"
BAD_TYGER_NAME = "E506"
BAD_REPLICAS = "E507"
WRONG_CODESPEC_KIND = "E508"
UNKNOWN_VERSION = "E509"
MISSING_COPY_SOURCE = "E510"
BAD_HOST_IP = "E511"
COPY_OUTSIDE = "E512"
TAG_TOO_LONG = "E513"
BAD_ENV_VALUE = "E514"
