"""The Python nodes of the ETL example (Exosphere-style BaseNode classes)."""

from pydantic import BaseModel

from rtc import BaseNode


class Extract(BaseNode):
    """Split the comma-separated source into at most `limit` rows."""

    class Inputs(BaseModel):
        source: str
        limit: int

    class Outputs(BaseModel):
        rows: list[str]
        count: int

    async def execute(self):
        rows = [r.strip() for r in self.inputs.source.split(",") if r.strip()][: self.inputs.limit]
        return self.Outputs(rows=rows, count=len(rows))


class Report(BaseNode):
    """Fan-in: every cleaned row arrives as one list."""

    class Inputs(BaseModel):
        count: int
        cleaned: list[str]

    class Outputs(BaseModel):
        summary: str
        ok: bool

    async def execute(self):
        ok = len(self.inputs.cleaned) == self.inputs.count
        summary = f"{self.inputs.count} rows: " + ", ".join(self.inputs.cleaned)
        print(summary)  # step output is streamed with a `[report]` prefix
        return self.Outputs(summary=summary, ok=ok)


class Notify(BaseNode):
    """Runs after all upstream steps finished; `ok` is null when the report failed."""

    class Inputs(BaseModel):
        ok: bool | None = None

    class Outputs(BaseModel):
        message: str

    async def execute(self):
        message = "etl finished" if self.inputs.ok else "etl finished with problems"
        print(message)
        return self.Outputs(message=message)
