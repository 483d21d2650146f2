"""Optional integrations whose dependencies are installed through extras."""
