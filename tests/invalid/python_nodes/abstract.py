from abc import abstractmethod

from exospherehost import BaseNode
from pydantic import BaseModel


class Abstract(BaseNode):
    class Inputs(BaseModel):
        name: str

    class Outputs(BaseModel):
        greeting: str

    @abstractmethod
    async def execute(self) -> Outputs:
        ...
