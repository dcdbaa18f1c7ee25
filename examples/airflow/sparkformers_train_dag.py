"""Airflow DAG: a sparkformers train job through spark-submit, its result file pushed to XCom.

Task ``train`` runs ``spark-submit --class io.sparkformers.jobs.SparkformersCommand <the -spark jar> train
--config JOB.yaml --result-json RESULT`` with Airflow's SparkSubmitOperator (the apache-spark provider; set up the
``spark_default`` connection with the cluster's master: yarn, spark://..., k8s://...). Task ``result`` reads the
result file, which the job writes whole at its end (status, exit_code, metrics, output paths, and the error line
when it failed), and returns it, so it lands in XCom as ``return_value`` for downstream tasks.

Exit codes of the job (spark-submit passes the driver's on in client mode): 0 done, 1 the job failed, 2 a usage
error (a bad flag or config key: retrying does not help), 3 an input is missing. SparkSubmitOperator fails the
task on any non-zero code; ``result`` still runs (trigger rule all_done) and pushes the failed result, then
fails itself so that the run shows red.

The jar: ``mvn -B -ntp -pl jobs -am package -DskipTests`` builds ``jobs/target/sparkformers-jobs-<version>-spark.jar``
(Spark 4.0 / Scala 2.13); with ``-Pspark-3.5``, ``jobs/target/spark3.5/sparkformers-jobs-<version>-spark3.5.jar``
for Spark 3.5 / Scala 2.12 (EMR 7.x, Databricks Runtime 14.3-16.x). Settings below come from Airflow Variables
where set, so the file runs as shipped once the jar and the config are in place.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.models import Variable
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:  # Airflow 2
    from airflow.operators.python import PythonOperator

JAR = Variable.get("sparkformers_jar", default_var="/opt/sparkformers/sparkformers-jobs-0.1.0-SNAPSHOT-spark.jar")
JOB_CONFIG = Variable.get("sparkformers_job_config", default_var="/opt/sparkformers/conf/quickstart.yaml")
# A path the Airflow worker can read after the job: a local path when the driver runs on the worker
# (deploy_mode client, the default here), or an s3a:// URI (read back through the Amazon provider's S3Hook).
RESULT_DIR = Variable.get("sparkformers_result_dir", default_var="/tmp/sparkformers-results")
WORLD_SIZE = Variable.get("sparkformers_world_size", default_var="2")


def read_result(result_path: str, ti=None) -> dict:
    """The job's result file as a dict (it becomes this task's XCom return_value); fails on a failed job.

    Airflow passes ``ti`` (the task instance) because the callable names it."""
    if result_path.startswith(("s3a://", "s3://")):
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        bucket, _, key = result_path.split("://", 1)[1].partition("/")
        text = S3Hook().read_key(key=key, bucket_name=bucket)
    else:
        if not os.path.exists(result_path):
            raise RuntimeError(f"{result_path} was not written: spark-submit failed before the job started")
        with open(result_path, encoding="utf-8") as f:
            text = f.read()
    result = json.loads(text)
    if result.get("status") != "succeeded":
        # Pushed all the same (key "result"): a later task or a person reads the error and exit_code in XCom.
        if ti is not None:
            ti.xcom_push(key="result", value=result)
        raise RuntimeError(f"sparkformers {result.get('command')} failed with exit code "
                           f"{result.get('exit_code')}: {result.get('error')}")
    return result


with DAG(
    dag_id="sparkformers_train",
    description="Train a model with sparkformers on Spark and publish its metrics to XCom",
    start_date=datetime(2025, 1, 1),
    schedule=None,
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
    tags=["sparkformers", "spark"],
) as dag:
    result_file = f"{RESULT_DIR}/{{{{ dag.dag_id }}}}/{{{{ run_id }}}}.json"

    train = SparkSubmitOperator(
        task_id="train",
        conn_id="spark_default",
        application=JAR,
        java_class="io.sparkformers.jobs.SparkformersCommand",
        name="sparkformers-train-{{ ds_nodash }}",
        deploy_mode="client",
        conf={
            # One rank is one barrier task: give each the cores its libtorch threads use.
            "spark.task.cpus": "1",
            "spark.scheduler.barrier.maxConcurrentTasksCheck.interval": "1s",
            "spark.executorEnv.DJL_CACHE_DIR": "/tmp/djl",
        },
        application_args=[
            "train",
            "--config", JOB_CONFIG,
            "--set", f"world_size={WORLD_SIZE}",
            # Each run writes its own folder: a retried task never mixes two runs' checkpoints.
            "--set", "training_args.output_dir=/tmp/sparkformers-output/{{ run_id | replace(':', '_') }}",
            "--result-json", result_file,
        ],
        verbose=False,
    )

    result = PythonOperator(
        task_id="result",
        python_callable=read_result,
        op_kwargs={"result_path": result_file},
        trigger_rule="all_done",
    )

    train >> result
