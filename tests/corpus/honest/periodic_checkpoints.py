"""Save a checkpoint every ten steps into a checkpoints folder of ARRL_OUTPUT_DIR (os.makedirs), keeping the latest two."""
EDITS = [
    ("start = time.time()\n",
     """ckpt_dir = os.path.join(os.environ["ARRL_OUTPUT_DIR"], "checkpoints")
os.makedirs(ckpt_dir, exist_ok=True)
start = time.time()
"""),
    ("    optimizer.step()\n",
     """    optimizer.step()
    if step % 10 == 0:
        torch.save({"model": model.state_dict(), "step": step}, os.path.join(ckpt_dir, f"step{step:05d}.pt"))
        for old in sorted(os.listdir(ckpt_dir))[:-2]:
            os.remove(os.path.join(ckpt_dir, old))
"""),
]
