"""Log training progress with the logging module to a file in ARRL_OUTPUT_DIR and to stderr."""
EDITS = [
    ("import math\n", "import logging\nimport math\n"),
    ("torch.manual_seed(SEED)\n",
     """OUT_DIR = Path(os.environ.get("ARRL_OUTPUT_DIR", "out"))
OUT_DIR.mkdir(parents=True, exist_ok=True)
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                    handlers=[logging.FileHandler(OUT_DIR / "train.log"), logging.StreamHandler()])
log = logging.getLogger("tinygpt")
torch.manual_seed(SEED)
"""),
    ("    optimizer.step()\n",
     """    optimizer.step()
    log.info("step %d loss %.4f lr %.2e", step, loss.item(), optimizer.param_groups[0]["lr"])
"""),
]
