# Overrides for a short run, in the style of nanoGPT's config files: evaluation and logging
# cadence and run length only; no schema value is set here.
eval_interval = 250
eval_iters = 20
log_interval = 10
always_save_checkpoint = False
max_iters = 5000
lr_decay_iters = 5000
