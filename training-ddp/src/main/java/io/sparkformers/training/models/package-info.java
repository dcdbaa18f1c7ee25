/**
 * Models loaded and saved the Hugging Face way: {@link io.sparkformers.training.models.AutoConfig} and
 * {@link io.sparkformers.training.models.AutoModel} read a model folder ({@code config.json} +
 * {@code model.safetensors}, or a sharded index) into {@code gpt2} (GPT2LMHeadModel), {@code bert}
 * (BertForSequenceClassification) or our own {@code mlp}, with transformers' parameter names and layouts;
 * {@code savePretrained} writes a folder transformers loads. Safetensors files are read and written by
 * {@link io.sparkformers.training.models.SafeTensorsFile} and {@link io.sparkformers.training.models.SafeTensorsWriter}.
 * {@link io.sparkformers.training.models.Gpt2LMHeadModel#generate} decodes as transformers' {@code generate}
 * (greedy, sampling, KV cache, streaming); {@link io.sparkformers.training.models.SparkGeneration} runs it over a
 * DataFrame.
 */
package io.sparkformers.training.models;
