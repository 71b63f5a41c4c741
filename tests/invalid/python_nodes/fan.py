from exospherehost import BaseNode
from pydantic import BaseModel


class Split(BaseNode):
    class Outputs(BaseModel):
        part: str

    async def execute(self) -> list[Outputs]:
        return [self.Outputs(part="a"), self.Outputs(part="b")]


class Tick(BaseNode):
    async def execute(self):
        return None
