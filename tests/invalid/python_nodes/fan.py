from exospherehost import BaseNode
from pydantic import BaseModel


class Split(BaseNode):
    class Inputs(BaseModel):  # Exosphere's Runtime needs both models, empty or not (E314)
        pass

    class Outputs(BaseModel):
        part: str

    async def execute(self) -> list[Outputs]:
        return [self.Outputs(part="a"), self.Outputs(part="b")]


class Tick(BaseNode):
    class Inputs(BaseModel):
        pass

    class Outputs(BaseModel):
        pass

    async def execute(self):
        return None
