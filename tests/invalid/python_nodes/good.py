from exospherehost import BaseNode
from pydantic import BaseModel


class Greet(BaseNode):
    class Inputs(BaseModel):
        name: str

    class Outputs(BaseModel):
        greeting: str

    async def execute(self) -> Outputs:
        return self.Outputs(greeting=f"hello {self.inputs.name}")
