"""Keep an exponential moving average of the weights with torch.optim.swa_utils.AveragedModel and report its metric."""
EDITS = [
    ("optimizer = make_optimizer(model.parameters())\n",
     """optimizer = make_optimizer(model.parameters())
ema = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.9))
"""),
    ("    optimizer.step()\n", "    optimizer.step()\n    ema.update_parameters(model)\n"),
    ("final = evaluate(model, 4 * EVAL_BATCHES)\n", "final = evaluate(ema.module, 4 * EVAL_BATCHES)\n"),
]
