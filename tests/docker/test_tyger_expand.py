"""`$(NAME)` expansion under `rtc exec` (the Airflow and Prefect tests check the same case against the same text)."""

from __future__ import annotations

from tyger_cases import EXPANDED, expansion_pipeline
from tyger_support import leftovers, rtc

from rtc.runtime import contract


def test_exec_expands_command_args_and_env_as_kubernetes(tmp_path, docker_client):
    ir = tmp_path / "expand.json"
    ir.write_text(expansion_pipeline().to_json(), encoding="utf-8")
    done = rtc("exec", str(ir), input=b"data\n")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode() == EXPANDED
    assert leftovers(docker_client) == []


def test_seed_style_args_name_the_pipes(tmp_path, docker_client):
    """The usual Tyger way: the program gets its pipes as arguments."""
    (tmp_path / "copy.yml").write_text(
        "name: copy\nimage: rtc-test/busybox:1\nbuffers: {inputs: [input], outputs: [output]}\n"
        'command: ["cp"]\nargs: ["$(INPUT_PIPE)", "$(OUTPUT_PIPE)"]\n'
    )
    done = rtc("exec", "-f", str(tmp_path / "copy.yml"), input=b"copied through $(INPUT_PIPE)\n")
    assert (done.returncode, done.stdout) == (0, b"copied through $(INPUT_PIPE)\n"), done.stderr.decode()


def test_expansion_rules():
    command, args, env = contract.expand_container(
        ["$(A)$(B)", "$$$(A)", "$$$$(A)", "tail$", "$()"],
        ["$(SYS)", "$(A"],
        {"B": "$(A)b", "A": "a", "SYS": "mine", "C": "$(SYS)", "D": "$(E)", "E": "e"},
        {"SYS": "runner"},
    )
    assert command == ["aab", "$a", "$$(A)", "tail$", "$()"]
    assert args == ["runner", "$(A"]
    # the runner's variable wins over the codespec's, also for values that refer to it
    # name order, not the order written: B sees A, D does not see E
    assert env == {"A": "a", "B": "ab", "C": "runner", "D": "$(E)", "E": "e", "SYS": "runner"}
