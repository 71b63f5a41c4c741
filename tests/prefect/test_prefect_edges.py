"""The run graph Prefect draws holds exactly the pipeline's edges (issue 23, item 1).

Prefect links a task argument to an earlier task when the argument *is* an object of that task's result;
rtc once passed a settings dict whose output-name strings were the keys of earlier results, and Prefect
drew edges that are not in the pipeline. Here several steps share output names and literal values equal
to them, with data, fan-out, fan-in and `after` edges: the drawn edges are the pipeline's.
"""

from __future__ import annotations

import pytest

from rtc.compiler import compile_file
from rtc_prefect_cases import drawn_edges, flow_file, load_module, pipeline_edges

pytestmark = [pytest.mark.prefect, pytest.mark.docker]

SOURCE = '''namespace EdgesT
env bb { image = "rtc-test/busybox:1" }
node A {
  env = bb
  outputs { result: str, items: list[str] }
  command = ["sh", "-c", "printf '{\\"result\\": \\"result\\", \\"items\\": [\\"result\\", \\"x\\"]}' > $RTC_OUTPUTS_FILE"]
}
node B {
  env = bb
  inputs { result: str }
  outputs { result: str }
  command = ["sh", "-c", "printf '{\\"result\\": \\"result\\"}' > $RTC_OUTPUTS_FILE"]
}
node Sink {
  env = bb
  inputs { result: str, all: list[str] }
  command = ["true"]
}
graph g {
  a = A()
  b = B(result = "result")
  c = B(result = each(a.items))
  d = B(result = b.result) after [a]
  e = Sink(result = "result", all = c.result)
  f = Sink(result = d.result, all = ["result"])
}
'''


def test_shared_output_names_draw_no_false_edges(compile_to, prefect_server, docker_client, tmp_path):
    source = tmp_path / "pipeline.rt"
    source.write_text(SOURCE, encoding="utf-8")
    pipeline = compile_file(str(source))
    module = load_module(flow_file(compile_to(pipeline), "g"))
    state = module.g(return_state=True)
    assert state.is_completed(), state.message
    assert drawn_edges(state) == pipeline_edges(pipeline.graphs["g"])
    assert pipeline_edges(pipeline.graphs["g"]) == {("a", "c"), ("b", "d"), ("a", "d"), ("c", "e"), ("d", "f")}
