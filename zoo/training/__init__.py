"""Training: `fit` (seeds, devices, callbacks, `train`), `finetune` (`retrain` of a
registry model on new data) and `diagnostics` (gradients through time)."""
