/**
 * Parameter-efficient fine-tuning as PEFT does it: {@link io.sparkformers.training.peft.LoraConfig} (PEFT's
 * adapter_config.json), {@link io.sparkformers.training.peft.PeftModel} (LoRA adapters injected into a model's
 * Linear layers, frozen base weights, adapter files in PEFT's layout, merge into a plain model).
 */
package io.sparkformers.training.peft;
