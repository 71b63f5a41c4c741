"""Train a straight line on a CSV file, evaluate the model file it writes, and serve predictions from it
(least squares, standard library only). `file` ports are `pathlib.Path` fields: an input is a path to read,
an output is a path to write (`self.output_path(...)`), and rtc moves the bytes between steps."""

import csv
import json
from pathlib import Path

from pydantic import BaseModel
from tabulate import tabulate

from rtc import BaseNode


def read_points(path) -> list[tuple[float, float]]:
    with open(path, newline="") as f:
        return [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f)]


def fit(points) -> dict:
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return {"slope": slope, "intercept": my - slope * mx}


def mse(model: dict, points) -> float:
    return sum((y - (model["slope"] * x + model["intercept"])) ** 2 for x, y in points) / len(points)


def fit_file(path: str) -> tuple[float, float, float]:
    """slope, intercept and mean squared error of the data file (the environment's `train` command)."""
    points = read_points(path)
    model = fit(points)
    return model["slope"], model["intercept"], mse(model, points)


class Train(BaseNode):
    class Inputs(BaseModel):
        data: Path

    class Outputs(BaseModel):
        model: Path
        mse: float

    async def execute(self):
        points = read_points(self.inputs.data)
        model = fit(points)
        path = self.output_path("model")
        path.write_text(json.dumps(model))
        return self.Outputs(model=path, mse=mse(model, points))


class Evaluate(BaseNode):
    class Inputs(BaseModel):
        model: Path
        data: Path
        threshold: float

    class Outputs(BaseModel):
        passed: bool
        table: str

    async def execute(self):
        model = json.loads(self.inputs.model.read_text())
        error = mse(model, read_points(self.inputs.data))
        table = tabulate([["slope", model["slope"]], ["intercept", model["intercept"]], ["mse", error]],
                         headers=["", "value"])
        print(table)
        return self.Outputs(passed=error <= self.inputs.threshold, table=table)


class Serve(BaseNode):
    class Inputs(BaseModel):
        model: Path
        xs: list[float]

    class Outputs(BaseModel):
        ys: list[float]

    async def execute(self):
        model = json.loads(self.inputs.model.read_text())
        return self.Outputs(ys=[model["slope"] * x + model["intercept"] for x in self.inputs.xs])
