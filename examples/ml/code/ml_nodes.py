"""Train and evaluate a straight line (least squares, standard library only)."""

import csv

from pydantic import BaseModel
from tabulate import tabulate

from rtc import BaseNode


def fit_file(path: str) -> tuple[float, float, float]:
    with open(path, newline="") as f:
        points = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f)]
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    intercept = my - slope * mx
    mse = sum((y - (slope * x + intercept)) ** 2 for x, y in points) / n
    return slope, intercept, mse


class Train(BaseNode):
    class Inputs(BaseModel):
        data: str

    class Outputs(BaseModel):
        slope: float
        intercept: float
        mse: float

    async def execute(self):
        slope, intercept, mse = fit_file(self.inputs.data)
        return self.Outputs(slope=slope, intercept=intercept, mse=mse)


class Evaluate(BaseNode):
    class Inputs(BaseModel):
        slope: float
        intercept: float
        mse: float
        threshold: float

    class Outputs(BaseModel):
        passed: bool
        table: str

    async def execute(self):
        i = self.inputs
        table = tabulate([["slope", i.slope], ["intercept", i.intercept], ["mse", i.mse]], headers=["", "value"])
        print(table)
        return self.Outputs(passed=i.mse <= i.threshold, table=table)
