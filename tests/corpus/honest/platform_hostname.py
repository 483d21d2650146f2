"""Log where the run happens: platform.platform(), socket.gethostname(), getpass.getuser(), torch's version, to stderr."""
EDITS = [
    ("import math\n", "import getpass\nimport math\nimport platform\nimport socket\nimport sys\n"),
    ("torch.manual_seed(SEED)\n",
     """print(f"host {socket.gethostname()} user {getpass.getuser()} on {platform.platform()}, "
      f"python {platform.python_version()}, torch {torch.__version__}", file=sys.stderr)
torch.manual_seed(SEED)
"""),
]
