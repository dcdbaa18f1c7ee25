/** The LoRA layer and the key mapping behind {@link io.sparkformers.training.peft.PeftModel}. */
package io.sparkformers.training.peft.internal;
