"""What a run recorded, read back: tables, the best experiment, the report, apply, reproduce and
export."""
