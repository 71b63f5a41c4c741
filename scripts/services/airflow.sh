#!/usr/bin/env bash
# Airflow 3 as users deploy it: Postgres metadata database, CeleryExecutor with a Redis broker,
# scheduler, dag-processor, api-server, triggerer and two Celery workers on different queues.
# Every component listens on 127.0.0.1 only; the log servers are off (--skip-serve-logs):
# the components share this machine's log folder, which the api-server reads directly.
#
#   scripts/services/postgres.sh start DIR airflow && scripts/services/redis.sh start DIR
#   scripts/services/airflow.sh start DIR     # writes DIR/airflow.env (AIRFLOW_HOME, AIRFLOW__*, AIRFLOW_API_URL)
#   scripts/services/airflow.sh stop DIR      # stops every component by the PID it started
#
# Workers: airflow-worker1 serves queues "default,$AIRFLOW_QUEUE_1" (default rtc-a), airflow-worker2
# "default,$AIRFLOW_QUEUE_2" (default rtc-b): mapped steps spread over both, and a step with its own
# queue (a run's node_pool) goes to one. Set AIRFLOW_WORKER2_DOCKER_HOST to bind the second worker
# to another Docker engine. The DAG folder is DIR/airflow/dags (env AIRFLOW__CORE__DAGS_FOLDER).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR"
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
COMPONENTS="airflow-scheduler airflow-dag-processor airflow-api-server airflow-triggerer airflow-worker1 airflow-worker2"

write_env() {
  load_env "$dir/postgres.env"
  load_env "$dir/redis.env"
  local home=$dir/airflow api_port secret
  mkdir -p "$home/dags"
  api_port=$(free_port)
  secret() { "$VENV/bin/python" -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'; }
  {
    echo "AIRFLOW_HOME=$home"
    echo "AIRFLOW_API_URL=http://127.0.0.1:$api_port"
    echo "AIRFLOW__CORE__DAGS_FOLDER=$home/dags"
    echo "AIRFLOW__CORE__LOAD_EXAMPLES=False"
    echo "AIRFLOW__CORE__EXECUTOR=CeleryExecutor"
    echo "AIRFLOW__CORE__FERNET_KEY=$(secret)"
    echo "AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    echo "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin"
    # Workers reach the api-server's execution API here (the default is localhost:8080).
    echo "AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$api_port/execution/"
    echo "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT/airflow"
    echo "AIRFLOW__CELERY__BROKER_URL=$REDIS_URL"
    echo "AIRFLOW__CELERY__RESULT_BACKEND=db+postgresql://postgres@127.0.0.1:$PG_PORT/airflow"
    echo "AIRFLOW__CELERY__WORKER_CONCURRENCY=4"
    echo "AIRFLOW__API__HOST=127.0.0.1"
    echo "AIRFLOW__API__PORT=$api_port"
    echo "AIRFLOW__API__WORKERS=1"
    echo "AIRFLOW__API__SECRET_KEY=$(secret)"
    echo "AIRFLOW__API_AUTH__JWT_SECRET=$(secret)"
    # Workers give up on an execution-API call after 5 s by default, and the task fails
    # ("ReadTimeout") when a loaded api-server answers late; see docs/deploy.md.
    echo "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=${AIRFLOW_EXECUTION_API_TIMEOUT:-60}"
    # A new DAG file is seen within seconds (production default: 300 s); see docs/deploy.md.
    echo "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=${AIRFLOW_REFRESH_INTERVAL:-5}"
    echo "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=${AIRFLOW_MIN_FILE_PROCESS_INTERVAL:-10}"
    # Ports of the log servers, in case one is started anyway: never a fixed, shared one.
    echo "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=$(free_port)"
    echo "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=$(free_port)"
  } >"$dir/airflow.env"
}

case "$cmd" in
start)
  [ -x "$VENV/bin/airflow" ] || die "no airflow in $VENV (scripts/setup.sh)"
  write_env
  load_env "$dir/airflow.env"
  "$VENV/bin/airflow" db migrate >"$dir/airflow-db-migrate.log" 2>&1 \
    || { tail -n 30 "$dir/airflow-db-migrate.log" >&2; die "airflow db migrate failed"; }
  af="$VENV/bin/airflow"
  start_bg "$dir" airflow-api-server "$af" api-server --host 127.0.0.1 --port "$AIRFLOW__API__PORT"
  start_bg "$dir" airflow-scheduler "$af" scheduler --skip-serve-logs
  start_bg "$dir" airflow-dag-processor "$af" dag-processor
  start_bg "$dir" airflow-triggerer "$af" triggerer --skip-serve-logs
  start_bg "$dir" airflow-worker1 "$af" celery worker --skip-serve-logs --celery-hostname "w1@%h" \
    --queues "default,${AIRFLOW_QUEUE_1:-rtc-a}"
  if [ -n "${AIRFLOW_WORKER2_DOCKER_HOST:-}" ]; then
    echo "AIRFLOW_WORKER2_DOCKER_HOST=$AIRFLOW_WORKER2_DOCKER_HOST" >>"$dir/airflow.env"
    DOCKER_HOST=$AIRFLOW_WORKER2_DOCKER_HOST start_bg "$dir" airflow-worker2 "$af" celery worker --skip-serve-logs \
      --celery-hostname "w2@%h" --queues "default,${AIRFLOW_QUEUE_2:-rtc-b}"
  else
    start_bg "$dir" airflow-worker2 "$af" celery worker --skip-serve-logs --celery-hostname "w2@%h" \
      --queues "default,${AIRFLOW_QUEUE_2:-rtc-b}"
  fi
  wait_until "$dir" airflow-api-server 180 http_ok "$AIRFLOW_API_URL/api/v2/monitor/health"
  for c in $COMPONENTS; do is_running "$dir" "$c" || { tail -n 30 "$dir/$c.log" >&2; die "$c exited"; }; done
  echo "airflow: api-server $AIRFLOW_API_URL, DAG folder $AIRFLOW__CORE__DAGS_FOLDER" >&2
  ;;
stop)
  # Workers first (a warm shutdown lets running tasks finish), then the rest together.
  stop_pids "$dir" TERM airflow-worker1 airflow-worker2
  stop_pids "$dir" TERM airflow-scheduler airflow-triggerer airflow-dag-processor airflow-api-server
  ;;
*) die "usage: $0 start|stop DIR" ;;
esac
