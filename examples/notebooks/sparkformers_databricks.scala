// Databricks notebook source
// MAGIC %md
// MAGIC # sparkformers in a Databricks notebook (Scala)
// MAGIC
// MAGIC Trains an MLP on scikit-learn's digits with two data-parallel ranks (Spark barrier tasks), scores text
// MAGIC predictions with sacrebleu-equal BLEU and chrF, and continues prompts with a causal LM, all on the
// MAGIC notebook's own `spark` session: nothing here stops it or exits the driver.
// MAGIC
// MAGIC **Cluster library** (Compute > Libraries > Install new > Jar):
// MAGIC - Databricks Runtime 14.3 LTS to 16.x (Spark 3.5, Scala 2.12): `mvn -B -ntp -Pspark-3.5 -pl jobs -am package -DskipTests`
// MAGIC   builds `jobs/target/spark3.5/sparkformers-jobs-0.1.0-SNAPSHOT-spark3.5.jar`;
// MAGIC - Databricks Runtime 17.x (Spark 4.0, Scala 2.13): `mvn -B -ntp -pl jobs -am package -DskipTests` builds
// MAGIC   `jobs/target/sparkformers-jobs-0.1.0-SNAPSHOT-spark.jar`.
// MAGIC
// MAGIC **Cluster Spark config**: `spark.task.cpus` = cores per rank (each rank is one task), and
// MAGIC `spark.executorEnv.DJL_CACHE_DIR /local_disk0/djl` (libtorch is unpacked there once per node).
// MAGIC `world_size` must not exceed the cluster's task slots (workers x cores / `spark.task.cpus`).
// MAGIC Single-node clusters run the ranks as threads of the driver.

// COMMAND ----------

import io.sparkformers.jobs.Sparkformers

// A folder every executor reaches: DBFS through its /dbfs mount, or a Unity Catalog volume (/Volumes/...).
val workDir = sys.props.getOrElse("sparkformers.notebook.dir", "/dbfs/tmp/sparkformers")
// A causal LM folder (config.json, model.safetensors, tokenizer.json), e.g. a model's files copied to DBFS.
val lmDir = sys.props.getOrElse("sparkformers.notebook.lm", s"$workDir/models/gpt2")

// COMMAND ----------

// MAGIC %md
// MAGIC ## Train
// MAGIC A job file as `./sparkformers train --config` takes it; the digits ship inside the jar (`classpath:`).

// COMMAND ----------

val job = s"""
task: tabular_classification
world_size: 2
model:
  config: {model_type: mlp, input_size: 64, hidden_sizes: [64], num_labels: 10}
data:
  train_file: classpath:/io/sparkformers/jobs/data/digits/digits.csv.gz
  format: csv
  header: false
  label_column: column_64
  feature_scale: 0.0625
  test_size: 0.2
  cache_dir: $workDir/cache
metrics: [accuracy, f1_macro]
training_args:
  output_dir: $workDir/digits
  seed: 42
  num_train_epochs: 3
  per_device_train_batch_size: 32
  learning_rate: 0.003
  save_strategy: "no"
  logging_steps: 10
"""
val trained = Sparkformers.train(spark, job)
val accuracy: Double = trained.metrics.get("eval_accuracy")
println(f"eval_accuracy $accuracy%.4f after ${trained.metrics.get("global_step")} steps; the model: ${trained.modelDir}")

// COMMAND ----------

// MAGIC %md
// MAGIC ## Evaluate
// MAGIC Any DataFrame with a `prediction` string and a `references` array of strings (label metrics: `prediction`
// MAGIC and `reference`), scored as one Spark aggregation.

// COMMAND ----------

import spark.implicits._

val predictions = Seq(
  ("The cat sat on the mat.", Seq("The cat sat on the mat.")),
  ("A quick brown fox jumps over the dog.", Seq("The quick brown fox jumps over the lazy dog.")),
  ("It is raining today in the city.", Seq("Today it is raining in the city.")),
  ("Spark trains the model.", Seq("Spark trains models on executors."))
).toDF("prediction", "references")
val scores = Sparkformers.evaluate(predictions, "bleu", "chrf", "exact_match")
val bleu = scores.get("bleu.score")
println(f"BLEU $bleu%.2f, chrF ${scores.get("chrf.score")}%.2f; everything: ${scores.metrics}")

// COMMAND ----------

// MAGIC %md
// MAGIC ## Generate
// MAGIC Greedy continuations (options as transformers' `generate`: `max_new_tokens`, `do_sample`, `temperature`,
// MAGIC `top_k`, `top_p`, `repetition_penalty`, `seed`, `batch_size`); each executor loads the model once.

// COMMAND ----------

val generated = Sparkformers.generate(spark, lmDir, java.util.List.of("Once upon a time", "The weather today is"),
  java.util.Map.of[String, AnyRef]("max_new_tokens", Int.box(10)))
generated.generations.forEach(g => println(s"${g.prompt} => ${g.text}"))
