"""rtc's runtime: what a step does at run time, written once for every target.

The local runner (`rtc run`), the Airflow DAGs and the Prefect flows all run a
step through these modules, so a step means the same everywhere:

- `contract`  the container contract's names and limits, the type check, safe io-file reads
- `jsonio`    bounded JSON (depth, NaN/Infinity) for whatever a step wrote
- `step`      a step's life: inputs bound, the container's environment, outputs and signal decoded,
              elements of a fan-out merged, prune and join rules
- `cache`     the step cache's key and entries
- `artifacts` the content-addressed store of file/dir ports (a folder, or S3 through fsspec, imported only
              for an s3:// store) and artifacts through an engine's archive API
- `lineage`   OpenLineage RunEvents of steps and graph runs, as plain dicts (docs/lineage.md)
- `lineage_client` sends them through openlineage-python, imported only when OpenLineage is configured
- `airflow`   the Airflow adapter (imports airflow.sdk and the Docker provider)
- `prefect`   the Prefect adapter (imports prefect and docker)

Standard library only, but for the two adapters and the imports named above, and its modules import each
other relatively: compiled DAGs and flows carry this folder beside them as
`rtc_runtime_<hash of its files>/`, so workers need no rtc installed and files
compiled by two rtc versions each import their own. docs/runtime.md is the contract.
"""
