"""Enable faulthandler (tracebacks of every thread on a crash, to stderr) and silence a noisy warning category."""
EDITS = [
    ("import math\n", "import faulthandler\nimport math\nimport warnings\n"),
    ("torch.manual_seed(SEED)\n",
     """faulthandler.enable()
warnings.filterwarnings("ignore", category=UserWarning)
torch.manual_seed(SEED)
"""),
]
