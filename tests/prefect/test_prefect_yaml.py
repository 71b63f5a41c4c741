"""prefect.yaml reads back unchanged through Prefect's own templating, and names mean the same on every target
(issue 11, items 7 and 20)."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from rtc_prefect_cases import BUSYBOX, graph_pipeline

from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Node, Param, Port, Step
from rtc.integrations.prefect import deployments, emitter, names

pytestmark = [pytest.mark.prefect]

# What `prefect deploy` may template from: the deployer's environment, and anything else.
VALUES = {"x": "FILLED", "PWD": "/somewhere", "$PWD": "/somewhere", "prefect": {"variables": {"v": "VAR"}}}


def pipeline(tags=(), default="plain", source="/tmp/p.rt", namespace="YamlT"):
    node = Node(name="N", env="bb", inputs=[Port(name="v", type="str")], command=["echo"])
    from rtc.compiler.ir import ParamRef, StepInput

    step = Step(id="s", node="N", inputs=[StepInput(name="v", binding=ParamRef(param="p"), type="str")])
    return graph_pipeline(namespace, [node], [step], params=[Param(name="p", type="str", default=default,
                                                                   required=False)], source=source, tags=list(tags))


def templated(text: str):
    """The document as `prefect deploy` sees it after Prefect's own templating."""
    from prefect.utilities.templating import apply_values

    doc = yaml.safe_load(text)
    return doc, apply_values(doc, VALUES, remove_notset=False)


def test_rtcs_placeholder_pattern_is_prefects():
    from prefect.utilities.templating import PLACEHOLDER_CAPTURE_REGEX

    assert deployments.PLACEHOLDER.pattern == PLACEHOLDER_CAPTURE_REGEX.pattern


SAFE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40).filter(
    lambda s: not deployments.PLACEHOLDER.search(s))


@settings(max_examples=150, deadline=None)
@given(st.lists(SAFE, max_size=4), SAFE)
def test_every_value_reads_back_unchanged_through_apply_values(tags, default):
    text = emitter.render(pipeline(tags, default))["prefect.yaml"]
    doc, after = templated(text)
    # Only rtc's own pull step holds a placeholder; every other value is Prefect's to read as it is.
    assert after["deployments"] == doc["deployments"]
    assert set(doc["deployments"][0]["tags"]) >= set(tags)


@pytest.mark.parametrize("default", ["{{ x }}", "{{ $HOME }}", "{{ prefect.variables.v }}", "a {{x}} b"])
def test_a_param_default_with_a_placeholder_stays_out_of_prefect_yaml_and_in_the_flow(default):
    files = emitter.render(pipeline(default=default))
    doc, after = templated(files["prefect.yaml"])
    assert after["deployments"] == doc["deployments"] and "parameters" not in doc["deployments"][0]
    assert repr(default) in files["YamlT__g.py"] or f'"{default}"' in files["YamlT__g.py"]


@pytest.mark.parametrize("tags,source", [(["{{ x }}"], "/tmp/p.rt"), (["ok", "a{{ $HOME }}"], "/tmp/p.rt"),
                                         ([], "/tmp/{{x}}.rt")])
def test_a_tag_holding_a_placeholder_is_left_out_of_prefect_yaml(tags, source):
    doc, after = templated(emitter.render(pipeline(tags, source=source))["prefect.yaml"])
    assert after["deployments"] == doc["deployments"]
    kept = doc["deployments"][0]["tags"]
    assert "rtc" in kept and not any("{{" in t for t in kept)
    assert [t for t in tags if "{{" not in t] == [t for t in kept if t in tags]


def test_names_with_braces_lose_them_on_prefect():
    p = pipeline()
    graph = p.graphs["g"].with_changes({"name": "g{{x}}"})
    files = emitter.render(p.with_changes({"graphs": {"g{{x}}": graph}}))
    doc, after = templated(files["prefect.yaml"])
    assert after == doc | {"pull": after["pull"]} and doc["deployments"][0]["name"] == "g__x__"


def test_secrets_that_would_share_one_secret_block_are_refused():
    nodes = [Node(name="A", env="bb", command=["true"], secrets=["API_KEY"]),
             Node(name="B", env="bb", command=["true"], secrets=["api_key"])]
    p = graph_pipeline("SecT", nodes, [Step(id="a", node="A"), Step(id="b", node="B")], envs=(BUSYBOX,))
    with pytest.raises(RtcError, match="'API_KEY' and 'api_key' would both read the Prefect Secret block 'api-key'"):
        emitter.render(p)


def test_the_emitters_block_name_is_the_runtimes():
    from rtc.runtime import prefect as runtime

    for name in ("API_KEY", "db_password", "X"):
        assert names.secret_block_name(name) == runtime.secret_block_name(name)
