"""Exosphere nodes for the graph template text-graph.yaml (written for Exosphere, run by rtc as they are)."""

from exospherehost import BaseNode, Runtime
from pydantic import BaseModel


class SplitNode(BaseNode):
    """Returns one output per word: Exosphere fans the rest of the branch out."""

    class Inputs(BaseModel):
        text: str
        sep: str

    class Outputs(BaseModel):
        word: str

    async def execute(self) -> list[Outputs]:
        return [self.Outputs(word=w) for w in self.inputs.text.split(self.inputs.sep) if w]


class ShoutNode(BaseNode):
    class Inputs(BaseModel):
        word: str
        suffix: str

    class Outputs(BaseModel):
        loud: str

    async def execute(self) -> Outputs:
        return self.Outputs(loud=self.inputs.word.upper() + self.inputs.suffix)


class MeasureNode(BaseNode):
    class Inputs(BaseModel):
        loud: str
        weight: int

    class Outputs(BaseModel):
        size: int

    async def execute(self) -> Outputs:
        return self.Outputs(size=len(self.inputs.loud) * self.inputs.weight)


class MergeNode(BaseNode):
    """Unites the fan-out: every branch's values arrive as lists."""

    class Inputs(BaseModel):
        louds: list[str]
        sizes: list[int]

    class Outputs(BaseModel):
        sentence: str
        total: int

    async def execute(self) -> Outputs:
        return self.Outputs(sentence=" ".join(self.inputs.louds), total=sum(self.inputs.sizes))


class ReportNode(BaseNode):
    class Inputs(BaseModel):
        sentence: str
        total: int

    class Outputs(BaseModel):
        line: str

    class Secrets(BaseModel):
        REPORT_TOKEN: str

    async def execute(self) -> Outputs:
        line = f"{self.inputs.sentence} ({self.inputs.total}) token={len(self.secrets.REPORT_TOKEN)} chars"
        print(line)
        return self.Outputs(line=line)


if __name__ == "__main__":
    Runtime(namespace="MyProject", name="TextRuntime",
            nodes=[SplitNode, ShoutNode, MeasureNode, MergeNode, ReportNode]).start()
