from exospherehost import Runtime, BaseNode
from pydantic import BaseModel

class MyNode(BaseNode):
    class Inputs(BaseModel):
        data: str

    class Outputs(BaseModel):
        result: str

    class Secrets(BaseModel):
        pass

    async def execute(self) -> Outputs:
        return self.Outputs(result=f"Processed: {self.inputs.data}")

# Create and start the runtime
Runtime(
    namespace="MyProject",
    name="MyRuntime",
    nodes=[MyNode]
).start()

