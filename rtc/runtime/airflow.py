"""rtc's Airflow adapter: the operators every rtc DAG file uses, over rtc's runtime.

Compiled DAG files add their folder to sys.path and import this package by its
folder name (`rtc_runtime_<hash>.airflow`); .airflowignore keeps Airflow from
parsing the package as DAG files. Needs only apache-airflow,
apache-airflow-providers-docker and the standard library: Airflow workers need
no rtc installed. What a step does (inputs, environment, outputs, signals, the
cache key) is rtc.runtime.step's and rtc.runtime.cache's, as under every
target; this module maps it onto DockerOperator, XCom and Airflow's task
states. See rtc's docs/airflow.md.
"""
import functools
import json
import os
import shutil
import tempfile
import time
from datetime import timedelta

from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import BaseOperator, Variable
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from docker.errors import DockerException
from docker.types import Mount

try:
    from airflow.sdk import literal  # a value Jinja leaves as it is
except ImportError:
    literal = None
try:
    from airflow.sdk import RetryDecision, RetryPolicy
except ImportError:  # Airflow before 3.3: no retry policies; DAGs fall back on Airflow's own back-off
    RetryDecision = RetryPolicy = None

from .artifacts import ArtifactError, open_store
from .cache import read_entry, step_key, write_entry
from .contract import (
    ARTIFACTS_IN_DIR, BUFFERS_DIR, IO_DIR, IO_DIR_MODE, LABEL_PIPELINE, LABEL_RUN, LABEL_STEP, MAX_OUTPUTS_BYTES, MAX_REQUEUES,
    MAX_SIGNAL_BYTES, OUTPUTS_FILE, RETRY_DEFAULTS, SIGNAL_FILE, IoFileError, buffer_file, expand_container,
    read_io_file, retry_delay,
)
from .step import (
    PRUNE, ContractError, artifact_environment, artifact_ports, binding_value, check_result, container_environment,
    decode_signal, fan_out_elements, last_element, merge_elements, place_artifact_inputs, place_buffer, stage_artifact_inputs,
    step_outputs, store_buffer, store_host_paths,
)

XCOM_RETURN_KEY = "return_value"  # Airflow's key of a task's return value

# Each node's contract settings by (DAG id, node name); steps keep only the name (plain data, also
# for mapped steps), and several DAGs parsed in one process keep their own nodes.
RTC_NODES = {}


def rtc_setting(variable, key, folder):
    """A worker setting of rtc's: the environment variable `variable`, else Airflow's `[rtc] <key>`
    (AIRFLOW__RTC__<KEY>), else the folder `folder` in $AIRFLOW_HOME."""
    value = os.environ.get(variable)
    if not value:
        try:
            from airflow.configuration import conf

            value = conf.get("rtc", key, fallback=None)
        except Exception:  # noqa: BLE001 - a worker without airflow-core's configuration: the default
            value = None
    return value or os.path.join(os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow"), folder)


def rtc_cache_dir():
    """Where steps with `cache` keep their outputs on this worker: RTC_CACHE_DIR, else Airflow's
    `[rtc] cache_dir` (AIRFLOW__RTC__CACHE_DIR), else $AIRFLOW_HOME/rtc-cache. Several workers share
    the cache when this is a folder on shared storage (the same user on each; see rtc's docs/airflow.md)."""
    return rtc_setting("RTC_CACHE_DIR", "cache_dir", "rtc-cache")


STORE_CONNECTION = "rtc_store"  # the Airflow Connection holding an s3:// store's endpoint and credentials


def rtc_artifact_store():
    """The artifact store of `file`/`dir` ports on this worker: RTC_STORE, else Airflow's `[rtc] store`
    (AIRFLOW__RTC__STORE), else the folder $AIRFLOW_HOME/rtc-artifacts. Workers on several machines need a
    store they all reach (s3://BUCKET/PREFIX); its endpoint and credentials come from the Airflow Connection
    `rtc_store` when there is one (login, password, extra endpoint_url / region_name), else from where boto3
    reads them (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...). See rtc's docs/airflow.md."""
    url = rtc_setting("RTC_STORE", "store", "rtc-artifacts")
    options = None
    if url.startswith("s3://"):
        from airflow.sdk import Connection

        try:
            conn = Connection.get(STORE_CONNECTION)
        except Exception:  # noqa: BLE001 - no such Connection: the client reads the environment
            conn = None
        if conn is not None:
            extra = conn.extra_dejson or {}
            options = {k: v for k, v in {"key": conn.login, "secret": conn.password,
                                         "endpoint_url": extra.get("endpoint_url")}.items() if v}
            if extra.get("region_name"):
                options["client_kwargs"] = {"region_name": extra["region_name"]}
    try:
        return open_store(url, options)
    except ArtifactError as exc:
        raise AirflowFailException(f"the artifact store: {exc}") from None


def rtc_private_folder(parent, name):
    """A 0700 folder of this worker's user in `parent` (no other local user enters it), holding `name`:
    a folder writable by its group, which the container is given (never by the world)."""
    private = tempfile.mkdtemp(prefix="rtc-", dir=parent)
    inner = os.path.join(private, name)
    os.mkdir(inner)
    os.chmod(inner, IO_DIR_MODE)
    return private, inner


def rtc_add_group(operator, group):
    """Give the operator's containers `group` as a supplementary group.

    DockerOperator has no `group_add` argument; its client builds the host config,
    so this client's `create_host_config` adds it (docker-py's HostConfig takes it).
    """
    cli = operator.cli
    if getattr(cli, "rtc_group_add", None) != group:
        make = type(cli).create_host_config.__get__(cli)
        cli.create_host_config = lambda *args, **kwargs: make(*args, group_add=[str(group)], **kwargs)
        cli.rtc_group_add = group

class RtcNode:
    """The settings a node's steps share: DockerOperator arguments, and what the contract checks.

    `retry` is rtc's policy as `retry_delay` takes it (strategy, jitter, delay, exponent, max_delay; defaults left out):
    Airflow's own fields are set from it (shown in its UI, and its back-off where retry policies do
    not exist) and RtcRetry computes rtc's exact delay with `retry_delay`, as every rtc target does.
    `mounts` are (target, host path, read only) bind mounts.
    """

    def __init__(
        self, name, *, image, command, outputs, environment=None, mounts=(), retries=0, retry=None, timeout=None,
        secrets=(), fanout=False, cache=None, artifact_inputs=None, **operator
    ):
        self.name = name
        self.artifact_inputs = artifact_inputs or {}  # {input: "file" | "dir" | "list[file]"}: bytes in the store
        self.cache = cache  # None, or {"max_age": seconds or None}: reuse the outputs of the same work
        self.bind_mounts = [(source, target, ro) for target, source, ro in mounts]  # as rtc.runtime.cache keys them
        self.operator = {
            "mount_tmp_dir": False, "auto_remove": "force", "image": image, "command": command,
            "environment": environment or {}, "retries": retries,
            "multiple_outputs": True,  # each output is its own XCom: `step.output["name"]` in the DAG file
            "logger_name": "rtc.step",  # the log source, without the runtime folder's hash
            **operator,
        }
        if mounts:
            self.operator["mounts"] = [Mount(t, source, type="bind", read_only=ro) for t, source, ro in mounts]
        if retries and retry is not None:
            retry = {**RETRY_DEFAULTS, **retry}
            self.operator["retry_delay"] = timedelta(seconds=retry["delay"])
            if retry["strategy"] == "exponential":
                self.operator["retry_exponential_backoff"] = retry["exponent"]  # Airflow's factor per try
            if retry["max_delay"] is not None:
                self.operator["max_retry_delay"] = timedelta(seconds=retry["max_delay"])
            if RetryPolicy is not None:
                self.operator["retry_policy"] = RtcRetry(retry)
        if timeout is not None:
            self.operator["execution_timeout"] = timedelta(seconds=timeout)
        self.outputs = outputs
        self.secrets = secrets
        self.fanout = fanout

    def register(self, dag_id):
        RTC_NODES[(dag_id, self.name)] = self


def rtc_schedule(cron, on_assets):
    """A DAG's schedule from rtc's `schedule` (a cron or preset, or None) and `on` (Asset URIs: `rtc://NS/GRAPH`
    for a graph's successful runs, `rtc://NS/GRAPH/STEP/OUTPUT` for one step output): any one fires it."""
    if not on_assets:
        return cron
    from airflow.sdk import Asset, AssetAny, AssetOrTimeSchedule, CronTriggerTimetable

    assets = [Asset(uri) for uri in on_assets]
    condition = assets[0] if len(assets) == 1 else AssetAny(*assets)
    if cron is None:
        return condition
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(cron, timezone="UTC"), assets=condition)


def rtc_triggered(context, uri, label):
    """The value of an input bound to another graph's output (`nightly.train.model`, the Asset `uri`): the one
    the triggering asset event carried, else (a run started by hand) the latest one recorded, else an error."""
    for asset, events in (context.get("triggering_asset_events") or {}).items():
        if getattr(asset, "uri", None) == uri and events:
            return events[-1].extra["value"]
    from airflow.sdk import Asset

    latest = list(context["inlet_events"][Asset(uri)].ascending(False).limit(1))
    if not latest or "value" not in (latest[0].extra or {}):
        raise AirflowFailException(f"{label}: no run has recorded it yet (no event of the Asset {uri}); "
                                   "run the DAG that records it first")
    return latest[0].extra["value"]


class RtcRunSucceeded(BaseOperator):
    """`rtc.run_succeeded`, in a DAG other graphs are `on`: once every step succeeded or was pruned, it announces
    the run (its outlet, the Asset `rtc://NS/GRAPH`), which schedules the DAGs on it. When a step failed it ends
    upstream_failed and announces nothing."""

    custom_operator_name = "rtc: announce the run"

    def __init__(self, **kwargs):
        super().__init__(trigger_rule="none_failed", retries=0, logger_name="rtc.run_succeeded", **kwargs)

    def execute(self, context):
        self.log.info("every step succeeded or was pruned: announcing %s", ", ".join(a.uri for a in self.outlets))


def rtc_announce_run(dag, uri):
    """The `rtc.run_succeeded` task of `dag`, after every step (see RtcRunSucceeded)."""
    from airflow.sdk import Asset

    steps = [t for t in dag.tasks if isinstance(t, (RtcStep, RtcEach)) or t.task_type == "RtcMappedStep"]
    task = RtcRunSucceeded(task_id="rtc.run_succeeded", outlets=[Asset(uri)])
    task.set_upstream(steps)
    return task


def rtc_namespace(dag_id):
    """The pipeline's namespace, for the rtc.pipeline label: a graph's DAG id is `<namespace>.<graph>`."""
    return dag_id.rsplit(".", 1)[0]


def rtc_resolve(name, binding, upstream, params, item):
    """The value of input `name`: a literal, a param, an upstream output, or the mapped element.

    `upstream`: {input: its XComArg, rendered}: the output's own XCom (the steps push each output as
    one, `multiple_outputs`), None when the step above did not succeed (a join `after all_done`).
    """
    if binding[0] == "each":
        return item[binding[1]]
    if binding[0] == "last":
        return last_element(rtc_resolve(name, binding[1], upstream, params, item), f"input {name!r}")
    if binding[0] != "output":
        return binding_value(binding, params, {})
    _, step, output, *shape = binding  # shape: "single" (left out), "mapped" or "mapped-fanout"
    value = upstream.get(name)
    if output == XCOM_RETURN_KEY and isinstance(value, dict):  # an output named like Airflow's return key
        value = value.get(output)
    if value is None or not shape:
        return value
    # A mapped upstream: one value per map index, in map-index order (indexed, so that the lazy
    # sequence is not read past its end); a pruned (skipped) element has none and drops out.
    results = [{output: value[i]} for i in range(len(value))]
    return merge_elements(results, [output], shape == ["mapped-fanout"])[output]


def rtc_bindings(inputs):
    """(bindings table, {input: XComArg}) of a step's inputs as its DAG file writes them: a data edge is
    the upstream task's XComArg of that output (`extract.output["rows"]`), a param `("param", name)`,
    a literal `("literal", value)`. The XComArgs are templated: Airflow renders them at run time."""
    table, refs = {}, {}
    for name, value in inputs.items():
        source = value.source if isinstance(value, RtcLast) else value
        if isinstance(source, tuple):
            binding = source
        else:
            op = source.operator  # a PlainXComArg: `task.output["key"]`
            shape = ()
            if op.is_mapped:
                node = RTC_NODES.get((op.dag_id, op.partial_kwargs.get("rtc_node")))
                shape = ("mapped-fanout" if node is not None and node.fanout else "mapped",)
            binding = ("output", op.task_id, source.key, *shape)
            refs[name] = op.output if source.key == XCOM_RETURN_KEY else source
        table[name] = ("last", binding) if isinstance(value, RtcLast) else binding
    return table, refs


class RtcLast:
    """`rtc_last(extract.output["rows"])` in a DAG file: the input reads the last element of that list
    (`last(...)` in the pipeline; for a mapped step, the last element in map-index order not pruned)."""

    __slots__ = ("source",)

    def __init__(self, source):
        self.source = source


rtc_last = RtcLast


def rtc_short(value, limit=40):
    """A value as one short line of JSON, for names and logs."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rtc_secret_values(names):
    """Secrets from Airflow Variables named exactly as the secrets; a missing one fails the task."""
    from airflow.sdk.log import mask_secret

    values = {}
    for name in names:
        value = Variable.get(name, default=None)
        if value is None:
            raise AirflowFailException(
                f"secret {name} is missing: create the Airflow Variable {name!r} "
                f"(for example: airflow variables set {name} VALUE)"
            )
        mask_secret(value, name=name)
        values[name] = value
    return values


SECRETS_CHECK_ID = "rtc.check_secrets"  # a dot: no step id (an identifier) can clash with it


class RtcSecretsCheck(BaseOperator):
    """Checks every secret of the graph before any container starts (as the local runner does).

    A setup task (Airflow's `as_setup()`), upstream of the first steps only: when it fails, the first
    steps end `upstream_failed` by their trigger rule, and every task below them, joins `after
    all_done` and `rtc.steps_succeeded` included, ends `upstream_failed` too: Airflow's scheduler
    marks a task whose indirect setup failed so, whatever its trigger rule (TriggerRuleDep's setup
    constraint). Never a direct upstream of a join: Airflow admits only all_success below a setup.
    """

    custom_operator_name = "rtc: check secrets"

    def __init__(self, *, rtc_secrets, **kwargs):
        super().__init__(retries=0, logger_name="rtc.check_secrets", **kwargs)  # no hash in the log source
        self.rtc_secrets = rtc_secrets
        self.is_setup = True

    def execute(self, context):
        missing = [name for name in self.rtc_secrets if Variable.get(name, default=None) is None]
        if missing:
            listed = "; ".join(f"{name} (needed by {', '.join(map(repr, self.rtc_secrets[name]))})" for name in missing)
            raise AirflowFailException(
                f"missing secret{'s' if len(missing) > 1 else ''}: {listed}; no container was started. "
                f"Create the Airflow Variables, e.g. airflow variables set {missing[0]} VALUE"
            )
        self.log.info("checked %d secret(s): every one has its Airflow Variable: %s", len(self.rtc_secrets),
                      "; ".join(f"{name} (for {', '.join(steps)})" for name, steps in self.rtc_secrets.items()))
        return True


class RtcRetry(RetryPolicy or object):
    """rtc's retry delays (Exosphere's strategies, see retry_delay), computed by the worker at each failure."""

    def __init__(self, policy):
        self.policy = policy

    def evaluate(self, exception, try_number, max_tries, context=None):
        delay = retry_delay(self.policy, try_number)
        return RetryDecision.retry(
            delay=timedelta(seconds=delay),
            reason=f"rtc {self.policy['strategy']} back-off: retry {try_number} in {delay:.3g}s",
        )


def rtc_skip_below_pruned(task, context):
    """Skips a `none_failed` task (one after a mapped step) below a pruned step, as `all_success` would.

    `none_failed` lets an empty fan-out (a skipped mapped task) through, but also a pruned (skipped)
    step. A mapped upstream counts as pruned when its `.each` task was skipped (a step above it was
    pruned), not when it ran over nothing or some of its elements pruned themselves.
    """
    if task.trigger_rule != "none_failed":
        return
    tasks = task.dag.task_dict
    ids = sorted(u + ".each" if u + ".each" in tasks else u for u in task.upstream_task_ids)
    ti = context["ti"]
    if ti.get_ti_count(dag_id=ti.dag_id, task_ids=ids, run_ids=[ti.run_id], states=["skipped"]):
        raise AirflowSkipException("a step above was pruned")


class RtcEach(BaseOperator):
    """`<step>.each`: the elements a fanned-out step maps over, as a list of {input: value}.

    Airflow maps a task only over another task's return value (the map length is that value's
    length), and an rtc step returns all its outputs as one object; a param's list is known only at
    run time; several lists are zipped only when their lengths agree (Airflow's `zip` would drop or
    fill the extra elements); and the steps below tell a pruned step above (this task skipped) from
    an empty fan-out (the mapped task skipped) by this task's state. Hence this small task, no
    container, before each mapped step. Its log says which lists it read, their lengths, and the
    elements the step runs over.
    """

    custom_operator_name = "rtc: elements of a fan-out"

    template_fields = ("rtc_upstream",)

    def __init__(self, *, rtc_sources, rtc_upstream=None, **kwargs):
        super().__init__(logger_name="rtc.each", **kwargs)
        self.rtc_sources = rtc_sources
        self.rtc_upstream = rtc_upstream or {}

    @staticmethod
    def rtc_where(binding):
        """Where a list comes from, as the pipeline says it: `extract.output['rows']`, `params.p`, a literal."""
        if binding[0] == "output":
            return f"{binding[1]}.output[{binding[2]!r}]"
        return f"params.{binding[1]}" if binding[0] == "param" else "a literal list"

    def execute(self, context):
        rtc_skip_below_pruned(self, context)
        step = self.task_id[: -len(".each")]
        values = {
            name: rtc_resolve(name, binding, self.rtc_upstream, context["params"], None)
            for name, binding in self.rtc_sources.items()
        }
        for name, binding in self.rtc_sources.items():
            value = values[name]
            size = f"a list of {len(value)}" if isinstance(value, list) else f"not a list: {rtc_short(value)}"
            self.log.info("each(%s) reads %s: %s", name, self.rtc_where(binding), size)
        sources = {name: ("each", ("literal", value)) for name, value in values.items()}
        try:
            elements = fan_out_elements(sources, context["params"], {}, f"step {step!r}")
        except ContractError as exc:
            raise AirflowFailException(str(exc)) from None
        if len(values) > 1:
            self.log.info("zipped %d lists of equal length", len(values))
        if not elements:
            self.log.info("no elements: Airflow marks %s skipped and starts no container; the steps below "
                          "read its outputs as []", step)
        else:
            shown = "; ".join(" ".join(f"{k}={rtc_short(v)}" for k, v in e.items()) for e in elements[:5])
            more = f" (and {len(elements) - 5} more)" if len(elements) > 5 else ""
            self.log.info("%s runs once per element, %d container(s): %s%s", step, len(elements), shown, more)
        return elements


class RtcWatcher(BaseOperator):
    """`rtc.steps_succeeded`: fails the DAG run, naming them, when steps failed whose failure a join
    `after all_done` absorbed.

    Airflow decides a run's state from its leaf tasks, and such a join succeeds whatever happened
    above it; rtc's rule is that a run fails when any step failed. This task runs once the steps
    the joins wait for are done (all_done, edges from those steps only) and fails when one of them
    failed: green on a successful run, never a skipped (pink) task.
    """

    custom_operator_name = "rtc: did the steps succeed"

    def __init__(self, **kwargs):
        super().__init__(trigger_rule="all_done", retries=0, logger_name="rtc.steps_succeeded", **kwargs)

    def execute(self, context):
        ti = context["ti"]
        ids = sorted(self.upstream_task_ids)
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=ids, run_ids=[ti.run_id]).get(ti.run_id, {})
        failed = sorted(task for task, state in states.items() if state in ("failed", "upstream_failed"))
        if failed:
            raise AirflowFailException(
                f"step{'s' if len(failed) > 1 else ''} {', '.join(failed)} failed (see {'their' if len(failed) > 1 else 'its'} "
                "log): the run fails, though the join after it ran"
            )
        self.log.info("checked %s: every step succeeded or was pruned", ", ".join(ids))
        return None


def rtc_facet(body):
    """An OpenLineage run facet (the client's attrs class) holding rtc.runtime.lineage's facet dict."""
    return _rtc_facet_class()(outputs=body.get("outputs", {}), omitted=body.get("omitted", {}))


@functools.cache
def _rtc_facet_class():
    # Made on first use: the module imports without openlineage on workers that do not report lineage.
    import attr
    from openlineage.client.facet_v2 import RunFacet

    @attr.define
    class RtcOutputsRunFacet(RunFacet):
        outputs: dict = attr.field(factory=dict)
        omitted: dict = attr.field(factory=dict)

    return RtcOutputsRunFacet


class RtcStep(DockerOperator):
    """One rtc step in a container, following rtc's container contract.

    Inputs reach the container as RTC_INPUTS (JSON), built at run time from
    literals, params and upstream XComs. After the container exits, its
    RTC_OUTPUTS_FILE is read, checked against the declared types, and
    returned as this task's XCom. Only `rtc_upstream` (XCom references) and
    `rtc_shown` (the command and the inputs' sources, wrapped in Airflow's
    `literal`, which Jinja never renders: Rendered Templates shows them as a
    hand-written DockerOperator's command) are templated, so no user string is
    ever rendered by Airflow's Jinja.

    It has no __init__ of its own: Airflow runs its argument handling once
    per class that defines one, and that is most of a DAG's parse time.
    `rtc_step()` sets the rtc attributes after construction.
    """

    template_fields = ("rtc_upstream", "rtc_shown")
    template_ext = ()
    rtc_shown = None
    rtc_node = None
    rtc_inputs = {}
    rtc_upstream = {}
    rtc_item = None
    rtc_announce = {}  # {output: Asset URI} of the outputs other graphs are `on`

    def execute(self, context):
        node = RTC_NODES[(self.dag_id, self.rtc_node)]
        rtc_skip_below_pruned(self, context)
        if self.rtc_item is not None:  # the element's name in the UI: `map_index_template`
            context["rtc_element"] = " ".join(f"{k}={rtc_short(v)}" for k, v in self.rtc_item.items())
        try:
            inputs = {
                name: rtc_triggered(context, binding[1], f"input {name!r} of step {self.task_id!r}") if binding[0] == "trigger"
                else rtc_resolve(name, binding, self.rtc_upstream, context["params"], self.rtc_item)
                for name, binding in self.rtc_inputs.items()
            }
        except ContractError as exc:  # last() of an empty list: another attempt would find it empty again
            raise AirflowFailException(f"step {self.task_id!r}: {exc}") from None
        self._store = rtc_artifact_store() if node.artifact_inputs or artifact_ports(node.outputs) else None
        if any(isinstance(inputs.get(name), str) for name in node.artifact_inputs):
            try:  # a `file`/`dir` param: a path on this worker, stored before the cache key is computed
                inputs = store_host_paths(self._store, inputs, node.artifact_inputs)
            except (ContractError, ArtifactError) as exc:
                raise AirflowFailException(f"step {self.task_id!r}: {exc}") from None
        self.log.info("inputs: %s", rtc_short(inputs, 200))
        self._rtc_seen = (inputs, None)  # what OpenLineage reports (get_openlineage_facets_on_complete)
        self._private_environment = rtc_secret_values(node.secrets)
        key = self.rtc_cache_key(context, inputs, node) if node.cache is not None else None
        if key is not None:
            cached = self.rtc_cached(key, node)
            if cached is not None:
                self.rtc_announce_outputs(context, cached)
                self._rtc_seen = (inputs, cached)
                return cached
        for mount in self.mounts:
            # As under the local runner: a missing host folder of a bind mount is created.
            if mount.get("Type") == "bind" and not os.path.exists(mount["Source"]):
                os.makedirs(mount["Source"], exist_ok=True)
        # A re-queue runs the container again with the same inputs (not a retry: try_number stays).
        for requeues in range(MAX_REQUEUES + 1):
            outputs, signal = self.rtc_run_once(context, inputs, node)
            if signal is None:
                if node.cache is not None:
                    self.rtc_remember(key or self.rtc_cache_key(context, inputs, node), outputs, node, context)
                self.rtc_announce_outputs(context, outputs)
                self._rtc_seen = (inputs, outputs)
                return outputs
            if signal[0] == PRUNE:
                raise AirflowSkipException(f"step {self.task_id!r} pruned itself")
            if requeues == MAX_REQUEUES:
                break
            self.log.info("step %r re-queued: running again in %ss", self.task_id, signal[1])
            time.sleep(signal[1])
        raise AirflowFailException(f"step {self.task_id!r} re-queued more than {MAX_REQUEUES} times")

    def get_openlineage_facets_on_complete(self, task_instance):
        """What Airflow's OpenLineage provider reports of this step (when it is installed and configured): the
        artifacts it read and made as datasets (namespace: the store, name: the artifact's key), its small JSON
        outputs as the `rtc_outputs` facet; rtc.runtime.lineage builds them, as under every target."""
        return self.rtc_lineage(task_instance, complete=True)

    def get_openlineage_facets_on_failure(self, task_instance):
        return self.rtc_lineage(task_instance, complete=False)

    def rtc_lineage(self, task_instance, complete):
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset

        from . import lineage

        node = RTC_NODES.get((self.dag_id, self.rtc_node))
        inputs, outputs = getattr(self, "_rtc_seen", ({}, None))
        if node is None:
            return OperatorLineage()
        as_datasets = lambda found: [Dataset(namespace=d["namespace"], name=d["name"], facets=d["facets"])  # noqa: E731
                                     for d in found]
        run_facets = {}
        if complete and outputs:
            shown = lineage.outputs_facet(outputs, node.outputs)
            if shown is not None:
                run_facets["rtc_outputs"] = rtc_facet(shown)
        return OperatorLineage(
            inputs=as_datasets(lineage.artifact_datasets(inputs, node.artifact_inputs)),
            outputs=as_datasets(lineage.artifact_datasets(outputs or {}, node.outputs)) if complete else [],
            run_facets=run_facets,
        )

    def rtc_announce_outputs(self, context, outputs):
        """For each output other graphs are `on` (`rtc_announce`: {output: Asset URI}), its value in the extra of
        the asset event this task's success emits (the triggered DAG's step reads it: rtc_triggered)."""
        for output, uri in sorted(self.rtc_announce.items()):
            asset = next(a for a in self.outlets if getattr(a, "uri", None) == uri)
            context["outlet_events"][asset].extra = {"value": outputs[output]}
            self.log.info("announced %s (%s): %s", output, uri, rtc_short(outputs[output], 120))

    def rtc_cache_key(self, context, inputs, node):
        """rtc.runtime.cache's key of this work (image digest, argv, inputs, environment); None without the image."""
        try:
            digest = self.cli.inspect_image(self.image)["Id"]
        except DockerException:
            return None  # not on this engine yet: the run pulls it, and the key is computed after the run
        map_index = context["ti"].map_index
        return step_key(
            image_digest=digest, argv=node.operator["command"], inputs=inputs,
            environ=node.operator["environment"], secrets=self._private_environment,
            workdir=node.operator.get("working_dir"), mounts=node.bind_mounts, outputs=node.outputs,
            map_index=map_index if map_index is not None and map_index >= 0 else None, fanout=node.fanout,
        )

    def rtc_cached(self, key, node):
        """The XCom of a recorded run of this work, re-checked against the declared types; None: run it."""
        folder = rtc_cache_dir()
        record = read_entry(folder, key)
        if record is None:
            return None
        if record.get("expires_at") is not None and time.time() >= float(record["expires_at"]):
            self.log.info("step %r: its cached outputs expired; running it", self.task_id)
            return None
        max_age = node.cache.get("max_age")  # today's: an entry recorded under a longer one expires by it
        if max_age is not None and time.time() >= float(record["created_at"]) + max_age:
            self.log.info("step %r: its cached outputs are older than its cache age; running it", self.task_id)
            return None
        try:
            outputs = check_result(record["outputs"], node.outputs, node.fanout, f"cached step {self.task_id!r}")
        except ContractError as exc:  # a damaged or edited entry: run the step, and record afresh
            self.log.warning("step %r: ignoring its cached outputs (%s); running it", self.task_id, exc)
            return None
        age = time.time() - float(record["created_at"])
        self.log.info("step %r cached: outputs recorded %.0fs ago in %s; no container started", self.task_id, age, folder)
        return outputs

    def rtc_remember(self, key, outputs, node, context):
        """Record the outputs file's content under `key`; a cache that cannot be written costs the reuse only."""
        if key is None:
            return
        now = time.time()
        max_age = node.cache.get("max_age")
        map_index = context["ti"].map_index
        record = {
            "key": key, "outputs": outputs, "created_at": now, "expires_at": None if max_age is None else now + max_age,
            "pipeline": rtc_namespace(self.dag_id), "graph": self.dag_id, "node": node.name,
            "step": self.task_id if map_index is None or map_index < 0 else f"{self.task_id}#{map_index}",
        }
        try:
            write_entry(rtc_cache_dir(), key, record)
        except (OSError, ValueError) as exc:
            self.log.warning("step %r: could not record its outputs in the cache: %s", self.task_id, exc)

    def rtc_run_once(self, context, inputs, node):
        """One container run in a fresh io folder: (the outputs read, the signal or None)."""
        run_id = context["run_id"]
        map_index = context["ti"].map_index
        mapped = map_index is not None and map_index >= 0
        private, io_dir = rtc_private_folder(self.host_tmp_dir, "io")
        where = f"step {self.task_id!r}" + (f" element {map_index}" if mapped else "")
        store = self._store
        try:
            in_dir = os.path.join(private, "in")
            try:
                staged = stage_artifact_inputs(store, inputs, node.artifact_inputs, in_dir)
                shown, _ = place_artifact_inputs(inputs, node.artifact_inputs)
                environment, inputs_text = container_environment(
                    node.operator["environment"], shown, step=self.task_id, run_id=run_id,
                    map_index=map_index if mapped else None, secrets=self._private_environment,
                    artifacts=artifact_environment(node.artifact_inputs, node.outputs),
                )
            except (ContractError, ArtifactError) as exc:
                raise AirflowFailException(f"{where}: {exc}") from None
            with open(os.path.join(io_dir, "inputs.json"), "x", encoding="utf-8") as f:
                f.write(inputs_text)
            if artifact_ports(node.outputs):  # where the step leaves its artifact outputs (/rtc/io/out)
                os.mkdir(os.path.join(io_dir, "out"))
                os.chmod(os.path.join(io_dir, "out"), IO_DIR_MODE)
            # Secrets stay in DockerOperator's private environment (masked, never rendered).
            self.environment = {k: v for k, v in environment.items() if k not in self._private_environment}
            self.mounts = [m for m in self.mounts if m.get("Target") not in (IO_DIR, ARTIFACTS_IN_DIR)]
            self.mounts.append(Mount(IO_DIR, io_dir, type="bind"))
            if staged:
                self.mounts.append(Mount(ARTIFACTS_IN_DIR, in_dir, type="bind", read_only=True))
            step_label = f"{self.task_id}#{map_index}" if mapped else self.task_id
            self.labels = {LABEL_RUN: run_id, LABEL_STEP: step_label, LABEL_PIPELINE: rtc_namespace(self.dag_id)}
            rtc_add_group(self, os.stat(io_dir).st_gid)
            started = time.monotonic()
            try:
                super().execute(context)
                self.log.info("container exited with code 0 after %.1f s", time.monotonic() - started)
            except DockerException as exc:
                if self.cli.images(name=self.image):
                    raise
                # This worker's engine lacks the image and could not pull it (DockerOperator pulls a missing
                # one); retrying cannot make an image appear in a registry.
                raise AirflowFailException(
                    f"image {self.image!r} is not on this Docker engine ({self.docker_url}) and cannot be pulled: "
                    f"{getattr(exc, 'explanation', None) or exc}. An image rtc builds reaches other engines "
                    "through a registry: rtc build FILE --push --registry REGISTRY, and compile with the same --registry"
                ) from None
            # Only regular files the step wrote in its own io folder are read (never a symlink, FIFO or folder).
            try:
                signal = decode_signal(read_io_file(io_dir, os.path.basename(SIGNAL_FILE), MAX_SIGNAL_BYTES), where)
                if signal is not None:  # the signal wins over any outputs written too
                    return None, signal
                text = read_io_file(io_dir, os.path.basename(OUTPUTS_FILE), MAX_OUTPUTS_BYTES)
                outputs = step_outputs(text, node.outputs, node.fanout, where, store, os.path.join(io_dir, "out"))
                for port in artifact_ports(node.outputs):
                    ref = outputs[port]
                    self.log.info("%s stored: sha256:%s (%d bytes) in %s", port, ref["sha256"][:12], ref["size"], store.url)
                self.log.info("outputs: %s", rtc_short(outputs, 200))
                return outputs, None
            except IoFileError as exc:
                raise AirflowFailException(f"{where}: {exc}") from None
            except (ContractError, ArtifactError) as exc:  # a broken contract is a bug, not a transient failure: no retries
                raise AirflowFailException(str(exc)) from None
        finally:
            shutil.rmtree(private, ignore_errors=True)


class RtcMappedStep(RtcStep):
    """A fanned-out step: Airflow's partial()/expand() accept only arguments of an __init__."""

    def __init__(self, *, rtc_node, rtc_inputs, rtc_upstream, rtc_item, rtc_shown=None, **kwargs):
        super().__init__(**kwargs)
        self.rtc_shown = rtc_shown
        self.rtc_node = rtc_node
        self.rtc_inputs = rtc_inputs
        self.rtc_upstream = rtc_upstream
        self.rtc_item = rtc_item


def rtc_step(task_id, node, inputs=None, announce=None, **kwargs):
    """One step: an RtcStep of `node` reading `inputs` ({input: upstream XComArg, or a param, literal or another
    graph's output}); `announce`: {output: Asset URI} of the outputs other graphs are `on` (the task's outlets)."""
    if announce or any(isinstance(v, tuple) and v[0] == "trigger" for v in (inputs or {}).values()):
        from airflow.sdk import Asset

        kwargs["outlets"] = [Asset(uri) for _, uri in sorted((announce or {}).items())]
        kwargs["inlets"] = [Asset(v[1]) for v in (inputs or {}).values() if isinstance(v, tuple) and v[0] == "trigger"]
    task = RtcStep(task_id=task_id, **node.operator, **kwargs)
    if announce:
        object.__setattr__(task, "rtc_announce", dict(announce))
    node.register(task.dag_id)
    # Plain attributes, set without Airflow's per-attribute bookkeeping (a measurable part of
    # parsing a large DAG); the data edges are set directly.
    object.__setattr__(task, "rtc_node", node.name)
    object.__setattr__(task, "custom_operator_name", node.name)  # the Airflow UI shows the rtc node
    table = {}
    if inputs:
        table, upstream = rtc_bindings(inputs)
        object.__setattr__(task, "rtc_inputs", table)
        if upstream:
            object.__setattr__(task, "rtc_upstream", upstream)
            task.set_upstream(list({id(ref.operator): ref.operator for ref in upstream.values()}.values()))
    object.__setattr__(task, "rtc_shown", rtc_shown(node, table))
    return task


def rtc_shown(node, table):
    """What Rendered Templates shows of a step: its command and where each input comes from, as literals."""
    if literal is None:
        return None
    return literal({"command": node.operator["command"], "inputs": {name: _shown_binding(b) for name, b in table.items()}})


def _shown_binding(b):
    if b[0] == "last":
        return f"last({_shown_binding(b[1])})"
    return (f"{b[1]}.output[{b[2]!r}]" if b[0] == "output" else f"params.{b[1]}" if b[0] == "param"
            else f"each: element of {b[1]!r}" if b[0] == "each" else b[1])


def rtc_mapped_step(task_id, node, inputs, each, each_trigger_rule="all_success", **kwargs):
    """A step run once per element of the lists `each` ({input: upstream XComArg, or a param}) names:
    a task `<id>.each` computes the elements, and the step is mapped over them (one container each)."""
    elements = RtcEach(task_id=task_id + ".each", rtc_sources={}, trigger_rule=each_trigger_rule)
    node.register(elements.dag_id)
    elements.rtc_sources, elements.rtc_upstream = rtc_bindings(each)
    if elements.rtc_upstream:
        elements.set_upstream(list({id(r.operator): r.operator for r in elements.rtc_upstream.values()}.values()))
    table, upstream = rtc_bindings(inputs)
    mapped = RtcMappedStep.partial(
        task_id=task_id, **node.operator, rtc_node=node.name, rtc_inputs=table, rtc_upstream=upstream,
        rtc_shown=rtc_shown(node, table),
        map_index_template="{{ rtc_element }}", **kwargs,  # each element named by its inputs in the UI
    ).expand(rtc_item=elements.output)
    mapped._operator_name = node.name  # the Airflow UI shows the rtc node
    return mapped


class RtcRunJob(DockerOperator):
    """A Tyger job container: buffers are files under /rtc/buffers named by <NAME>_PIPE. An input buffer is a DAG
    param holding its text, or the reference of a stored buffer (a run's output); output buffers go to the
    artifact store and the task returns their references, so runs on different workers hand them on."""

    template_fields = ()
    template_ext = ()

    def __init__(self, *, rtc_pipeline, rtc_inputs=None, rtc_outputs=None, rtc_replica=0, **kwargs):
        kwargs.setdefault("mount_tmp_dir", False)
        kwargs.setdefault("auto_remove", "force")
        kwargs.setdefault("logger_name", "rtc.run_job")  # the log source, without the runtime folder's hash
        super().__init__(**kwargs)
        self.rtc_pipeline = rtc_pipeline
        self.rtc_inputs = rtc_inputs or {}  # buffer name -> its <NAME>_PIPE variable
        self.rtc_outputs = rtc_outputs or {}
        self.rtc_replica = rtc_replica

    def execute(self, context):
        run_id = context["run_id"]
        private, folder = rtc_private_folder(self.host_tmp_dir, "buffers")
        store = rtc_artifact_store()
        try:
            system = {}  # what the runner adds to the codespec's env (as under `rtc exec`)
            for name, variable in [*self.rtc_inputs.items(), *self.rtc_outputs.items()]:
                path = os.path.join(folder, os.path.basename(buffer_file(name)))
                try:
                    place_buffer(store, context["params"][name] if name in self.rtc_inputs else "", path)
                except ArtifactError as exc:
                    raise AirflowFailException(f"input buffer {name!r}: {exc}") from None
                os.chmod(path, 0o660)  # the container writes it through the folder's group
                system[variable] = buffer_file(name)
            system["RTC_RUN_ID"] = run_id
            system["RTC_REPLICA_INDEX"] = system["REPLICA_INDEX"] = str(self.rtc_replica)
            self.command, _, self.environment = expand_container(self.command, (), self.environment, system)
            self.mounts = [m for m in self.mounts if m.get("Target") != BUFFERS_DIR]
            self.mounts.append(Mount(BUFFERS_DIR, folder, type="bind"))
            self.labels = {LABEL_RUN: run_id, LABEL_STEP: self.task_id, LABEL_PIPELINE: self.rtc_pipeline}
            rtc_add_group(self, os.stat(folder).st_gid)
            super().execute(context)
            outputs = {}
            for name in self.rtc_outputs:  # into the artifact store: a run on another worker reads them there
                path = os.path.join(folder, os.path.basename(buffer_file(name)))
                try:
                    outputs[name] = store_buffer(store, path, name)
                except (ContractError, ArtifactError) as exc:
                    raise AirflowFailException(str(exc)) from None
                self.log.info("output buffer %s: sha256:%s (%d bytes) in %s", name, outputs[name]["sha256"][:12],
                              outputs[name]["size"], store.url)
        finally:
            shutil.rmtree(private, ignore_errors=True)
        return outputs
