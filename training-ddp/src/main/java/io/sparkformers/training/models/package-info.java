/**
 * Models loaded and saved the Hugging Face way: {@link io.sparkformers.training.models.AutoConfig} and
 * {@link io.sparkformers.training.models.AutoModel} read a model folder ({@code config.json} +
 * {@code model.safetensors}, or a sharded index) into the architecture registered for its {@code model_type}
 * ({@link io.sparkformers.training.models.ModelArchitecture}, a Java service): {@code gpt2}
 * (GPT2LMHeadModel, package {@code gpt2}), {@code bert} (BertForSequenceClassification, package {@code bert})
 * or our own {@code mlp} (package {@code mlp}), with transformers' parameter names and layouts; models are trees
 * of {@code nn} modules, and {@code savePretrained} writes a folder transformers loads. Safetensors files are
 * read and written by {@link io.sparkformers.training.models.SafeTensorsFile} and
 * {@link io.sparkformers.training.models.SafeTensorsWriter}. {@link io.sparkformers.training.models.CausalLM#generate}
 * decodes any causal LM as transformers' {@code generate} (greedy, sampling, KV cache, streaming);
 * {@link io.sparkformers.training.models.SparkGeneration} runs it over a DataFrame.
 */
package io.sparkformers.training.models;
